from tests.crossdb.factory import define_people

globals().update(define_people("maria_people", __name__))
