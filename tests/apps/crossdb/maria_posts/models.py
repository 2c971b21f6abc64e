from tests.crossdb.factory import define_posts

globals().update(define_posts("maria_posts", __name__, person="maria_people.Person"))
