// Package lda holds linear discriminant analysis with Ledoit-Wolf shrinkage, as scikit-learn's
// LinearDiscriminantAnalysis(solver='lsqr', shrinkage='auto').
//
// It takes feature vectors (CSP log-variances, selected FBCSP features) and class indices from the
// training code, and turns a feature vector into class scores and probabilities online.
package lda
