// Package logreg holds L2-regularised logistic regression with scikit-learn's defaults
// (LogisticRegression(C=1.0, penalty='l2', solver='lbfgs'): unpenalised intercept, binary model for two
// classes, multinomial for more).
//
// It takes feature vectors (tangent vectors from package riemann) and class indices from the
// training code and turns a feature vector into class probabilities online.
package logreg
