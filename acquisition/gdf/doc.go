// Package gdf reads General Data Format files, version 2 (GDF 2.x, as written by BioSig, the
// BCI competition data sets and many BCI amplifier tools).
//
// Data comes from a GDF file on disk and goes into acquisition.Recording: samples in physical
// units (volts for µV/mV/V channels), and the GDF event table as acquisition.Annotation values with
// the event type as Code. Behaviour follows MNE-Python 1.3's read_raw_gdf so that results can be
// compared sample by sample; differences are documented on Read. GDF 1.x is not supported.
package gdf
