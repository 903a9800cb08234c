// Package xdawn holds xDAWN spatial filters for event-related potentials (P300) and the
// xDAWN-covariance features built on them, as pyRiemann's Xdawn and XdawnCovariances define them.
//
// Training code hands it band-passed epochs time-locked to stimuli (channel-major) with class
// indices; it returns per-class filters and filtered class prototypes (evoked responses). Online,
// each window becomes a covariance of [prototypes; filtered window], which package riemann projects
// to the tangent space for a logistic regression.
package xdawn
