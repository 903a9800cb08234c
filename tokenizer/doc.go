// Package tokenizer turns cleaned M/EEG streams into discrete tokens, the input of brain-signal
// language models (Du-IN, Zheng et al. 2024; BrainOmni, Xiao et al. 2025; MEG-GPT, Huang et al.
// 2025). Those tokenizers cut each channel's signal into short patches and replace every patch by
// the index of its nearest entry in a learnt codebook (the vector-quantisation bottleneck of a
// VQ-VAE). Here the codebook is learnt by k-means (Lloyd's algorithm, as scikit-learn's KMeans) on
// amplitude-normalised patches of recorded sessions, optionally in several residual stages
// (BrainOmni's residual VQ), or fixed (mu-law per sample, MEG-GPT's baseline); each patch's tokens
// travel with its mean and standard deviation, so a consumer can reconstruct the signal
// (Quantizer.Detokenize) or ignore amplitude; with side bits they travel as a few-bit code each
// (SideRange). A codebook's contract (rate, band, channel types) decides which streams and channels
// it tokenizes. A JointCodec instead codes all channels of one montage together (principal
// components x DCT, entropy-coded by package entropy): far fewer bits for the same reconstruction,
// tied to that montage.
//
// Data flow: a pipeline's tokenizer stage (pipeline/) feeds cleaned frames to a Tokenizer (or a
// JointTokenizer), which emits one streams.Tokens message per patch on the tokens topic; the detokenizer turns them
// back into frames; `neurostream train-tokenizer` learns the Codebook file from recordings
// (acquisition readers).
package tokenizer
