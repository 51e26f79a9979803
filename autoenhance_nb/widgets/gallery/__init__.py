"""The gallery: a card per photo (original beside enhanced), pages of cards, the
thumbnail cache, actions on one card or on the selected ones, and the "Gallery of"
picker the form shows."""

from ._gallery import OrderGallery
from ._picker import GalleryPicker, add_gallery_picker

__all__ = ["GalleryPicker", "OrderGallery", "add_gallery_picker"]
