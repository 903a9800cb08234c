package edf
