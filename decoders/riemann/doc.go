// Package riemann holds the symmetric positive-definite (SPD) matrix geometry the native decoders
// are built on: sample covariance of a window, regularisation of covariances that are not positive
// definite, the generalized symmetric eigenproblem, matrix functions (log, exp, sqrt, inverse sqrt),
// the affine-invariant Riemannian mean and distance, tangent-space projection, re-centering, and
// the MDM classifier.
//
// Input comes from the decoders' training code (epochs of band-passed signal, channel-major) and
// from windows handed over online; output goes to the classifiers in the sibling packages (CSP
// filters, tangent vectors for logistic regression, class means for MDM). The definitions follow
// pyRiemann (mean_riemann, distance_riemann, TangentSpace) and scipy.linalg.eigh(a, b); gonum has
// no generalized eigensolver nor SPD matrix logarithm, so they are written here on top of its
// LAPACK routines.
package riemann
