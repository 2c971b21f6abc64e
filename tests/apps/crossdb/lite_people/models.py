from tests.crossdb.factory import define_people

globals().update(define_people("lite_people", __name__))
