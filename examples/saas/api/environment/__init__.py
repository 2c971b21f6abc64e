from .loader import env

__all__ = ["env"]
