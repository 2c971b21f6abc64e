from tests.crossdb.factory import define_posts

globals().update(define_posts("lite_posts", __name__, person="lite_people.Person"))
