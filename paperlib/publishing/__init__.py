"""Publishing: the book (papermill, jupyter-book), its plots, and the check of a release."""
