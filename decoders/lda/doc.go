// Package lda holds linear discriminant analysis with Ledoit-Wolf shrinkage, as scikit-learn's
// LinearDiscriminantAnalysis(solver='lsqr', shrinkage='auto'). solver='eigen' has the same
// decision function (its coef_ = μ V Vᵀ with Vᵀ Σ V = I, i.e. Σ⁻¹μ; scikit-learn 1.2 gives
// coefficients equal to lsqr's within 1e-13 on this package's fixtures), so only lsqr is written.
//
// It takes feature vectors (CSP log-variances, selected FBCSP features) and class indices from the
// training code, and turns a feature vector into class scores and probabilities online.
package lda
