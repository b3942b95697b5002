"""Readers and writers, one module per format.

A reader returns core objects or raises a :class:`fusionlabel.io.errors.DataError`
naming the file; it never returns "empty" for "broken".
"""
