// Package train turns recordings with event annotations into trained native decoders and reports
// on them: it band-passes each continuous recording causally (the filter the online stream goes
// through), cuts epochs around the chosen events, fits a decoder (package decoders/model), and
// scores it by k-fold cross-validation or on held-out recordings (accuracy, Cohen's kappa, ROC-AUC
// for two classes, confusion matrix).
//
// Recordings come from the acquisition readers (EDF+/BDF+ annotations); the model file goes to
// disk for the pipeline's decoder stage, and the report is printed and written as JSON by
// `neurostream train`.
package train
