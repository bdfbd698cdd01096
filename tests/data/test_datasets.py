"""The bundled data sets are found inside the package and have the documented sizes."""
from rnnkit.data.datasets import digits, shakespeare, sunspots


def test_shakespeare_is_about_a_megabyte_of_ascii():
    text = shakespeare()
    assert len(text) == 1_036_489 and text.isascii() and text.startswith("HAMLET, PRINCE OF DENMARK")


def test_sunspots_cover_1700_to_2008():
    years, values = sunspots()
    assert years.shape == values.shape == (309,) and years[0] == 1700 and years[-1] == 2008
    assert values[0] == 5.0 and values[-1] == 2.9 and values.min() >= 0


def test_digits_are_8x8_images_with_ten_labels():
    images, labels = digits()
    assert images.shape == (1797, 8, 8) and labels.shape == (1797,)
    assert images.min() == 0 and images.max() == 16 and sorted(set(labels.tolist())) == list(range(10))
