from tests.crossdb.factory import define_posts

globals().update(define_posts("pg_posts", __name__, person="pg_people.Person"))
