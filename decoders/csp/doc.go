// Package csp holds common spatial patterns (CSP) and the mutual-information feature selection of
// filter-bank CSP (FBCSP).
//
// Training code hands it band-passed epochs (channel-major, one class index per epoch); it returns
// spatial filters whose log-variance features feed a linear classifier (package lda). The
// definitions are MNE-Python's mne.decoding.CSP defaults: class covariances of the concatenated
// epochs (empirical, not centred), scipy.linalg.eigh(C0, C0+C1), components ordered by |λ - 0.5|
// (what component_order='mutual_info' reduces to for two classes), features log(mean(s²)). The
// feature selection is the Parzen-window mutual information of Ang et al. (2012, FBCSP).
package csp
