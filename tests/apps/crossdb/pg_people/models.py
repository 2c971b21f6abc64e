from tests.crossdb.factory import define_people

globals().update(define_people("pg_people", __name__))
