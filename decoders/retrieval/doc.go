// Package retrieval ranks a bank of candidate embeddings (speech segments for the speech decoder, gallery
// images for the visual decoder) by cosine similarity to an embedding a decoder predicts from brain signal.
//
// The bank comes from a file the user provides: embeddings of the candidate segments or images computed
// with the same feature model the brain decoder was trained against (e.g. wav2vec 2.0 for speech, CLIP for
// images). The top-k ids and scores go into streams.Prediction.TopK and from there to the predictions topic.
//
// File format (JSON, format tag "neurostream-embedding-bank/1"):
//
//	{"format": "neurostream-embedding-bank/1", "dim": 64,
//	 "items": [{"id": "segment-0001", "embedding": [0.12, -0.40, ...]}, ...]}
//
// Ids must be unique and every embedding must have dim finite values with a non-zero norm.
package retrieval
