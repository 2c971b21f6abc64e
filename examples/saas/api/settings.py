# settings.py
from api.config import config
globals().update(config.get_all_settings())

ROOT_URLCONF = "api.urls"
