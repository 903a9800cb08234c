package train

import (
	"fmt"
	"io"
	"log/slog"
	"sort"
	"strings"

	"github.com/neurostream/neurostream/decoders/model"
)

// Report scores a decoder on labelled trials.
type Report struct {
	Decoder   string   `json:"decoder"`
	Method    string   `json:"method"` // "5-fold cross-validation" or "held-out test"
	Classes   []string `json:"classes"`
	NTrials   int      `json:"n_trials"`
	Accuracy  float64  `json:"accuracy"`
	Kappa     float64  `json:"kappa"`
	ROCAUC    *float64 `json:"roc_auc,omitempty"` // two classes only; class 1 is positive
	Confusion [][]int  `json:"confusion"`         // [true][predicted]
	// FoldAccuracy and FoldAUC are per fold for cross-validation.
	FoldAccuracy []float64 `json:"fold_accuracy,omitempty"`
	FoldAUC      []float64 `json:"fold_auc,omitempty"`
	Predicted    []int     `json:"predicted"`
	Truth        []int     `json:"truth"`
	ProbaClass1  []float64 `json:"proba_class1,omitempty"`
}

// Score builds a report from true and predicted class indices and, for two classes, the
// probability of class 1 (may be nil).
func Score(classes []string, truth, pred []int, p1 []float64) *Report {
	k := len(classes)
	r := &Report{Classes: classes, NTrials: len(truth), Confusion: make([][]int, k), Predicted: pred, Truth: truth, ProbaClass1: p1}
	for i := range r.Confusion {
		r.Confusion[i] = make([]int, k)
	}
	correct := 0
	for i, t := range truth {
		r.Confusion[t][pred[i]]++
		if t == pred[i] {
			correct++
		}
	}
	n := float64(len(truth))
	if n == 0 {
		return r
	}
	r.Accuracy = float64(correct) / n
	// Cohen's kappa: agreement beyond what the marginals give by chance.
	pe := 0.0
	for c := 0; c < k; c++ {
		rowSum, colSum := 0, 0
		for j := 0; j < k; j++ {
			rowSum += r.Confusion[c][j]
			colSum += r.Confusion[j][c]
		}
		pe += float64(rowSum) * float64(colSum) / (n * n)
	}
	if pe < 1 {
		r.Kappa = (r.Accuracy - pe) / (1 - pe)
	}
	if k == 2 && p1 != nil {
		if auc, ok := ROCAUC(truth, p1); ok {
			r.ROCAUC = &auc
		}
	}
	return r
}

// ROCAUC is the area under the ROC curve of scores for class 1 (ties count half, as
// scikit-learn's roc_auc_score). ok is false when only one class is present.
func ROCAUC(truth []int, score []float64) (auc float64, ok bool) {
	idx := make([]int, len(truth))
	for i := range idx {
		idx[i] = i
	}
	sort.Slice(idx, func(a, b int) bool { return score[idx[a]] < score[idx[b]] })
	// Mann-Whitney U with mid-ranks for ties.
	ranks := make([]float64, len(idx))
	for i := 0; i < len(idx); {
		j := i
		for j+1 < len(idx) && score[idx[j+1]] == score[idx[i]] {
			j++
		}
		for m := i; m <= j; m++ {
			ranks[idx[m]] = float64(i+j)/2 + 1
		}
		i = j + 1
	}
	nPos, nNeg, sumPos := 0.0, 0.0, 0.0
	for i, t := range truth {
		if t == 1 {
			nPos++
			sumPos += ranks[i]
		} else {
			nNeg++
		}
	}
	if nPos == 0 || nNeg == 0 {
		return 0, false
	}
	return (sumPos - nPos*(nPos+1)/2) / (nPos * nNeg), true
}

// Predict runs a model file over a dataset's epochs, offline, through the same code as Decode.
func Predict(f *model.File, d *Dataset) (pred []int, p1 []float64, err error) {
	dec, err := model.New(f)
	if err != nil {
		return nil, nil, err
	}
	for i, ep := range d.Epochs {
		c, proba, err := dec.Classify(ep)
		if err != nil {
			return nil, nil, fmt.Errorf("epoch %d: %w", i, err)
		}
		pred = append(pred, c)
		if len(proba) == 2 {
			p1 = append(p1, proba[1])
		}
	}
	return pred, p1, nil
}

// Evaluate scores a trained model on a held-out dataset.
func Evaluate(f *model.File, d *Dataset) (*Report, error) {
	pred, p1, err := Predict(f, d)
	if err != nil {
		return nil, err
	}
	r := Score(d.Classes, d.Labels, pred, p1)
	r.Decoder, r.Method = string(f.Decoder), "held-out test"
	return r, nil
}

// Fold returns the fold of trial i of n for k folds: contiguous blocks in time order, as
// scikit-learn's KFold without shuffling (neighbouring trials are correlated, so shuffling would
// leak between train and test).
func Fold(i, n, k int) int { return i * k / n }

// CrossValidate fits spec on k-1 folds and tests on the remaining one, for every fold. progress,
// if not nil, gets one line per fold.
func CrossValidate(spec model.Spec, d *Dataset, k int, log *slog.Logger, progress io.Writer) (*Report, error) {
	n := len(d.Epochs)
	if k < 2 || k > n {
		return nil, fmt.Errorf("cross-validation: %d folds for %d trials (want 2..%d)", k, n, n)
	}
	pred := make([]int, n)
	p1 := make([]float64, n)
	var foldAcc, foldAUC []float64
	for f := 0; f < k; f++ {
		var trX, teX [][][]float64
		var trY, teY, teIdx, trG []int
		for i := range d.Epochs {
			if Fold(i, n, k) == f {
				teX, teY, teIdx = append(teX, d.Epochs[i]), append(teY, d.Labels[i]), append(teIdx, i)
			} else {
				trX, trY = append(trX, d.Epochs[i]), append(trY, d.Labels[i])
				if spec.Groups != nil {
					trG = append(trG, spec.Groups[i])
				}
			}
		}
		fs := spec
		fs.Groups = trG
		m, err := model.Fit(fs, trX, trY, log)
		if err != nil {
			return nil, fmt.Errorf("fold %d: %w", f+1, err)
		}
		fp, fp1, err := Predict(m, &Dataset{Epochs: teX, Labels: teY, Classes: d.Classes})
		if err != nil {
			return nil, fmt.Errorf("fold %d: %w", f+1, err)
		}
		for j, i := range teIdx {
			pred[i] = fp[j]
			if fp1 != nil {
				p1[i] = fp1[j]
			}
		}
		fr := Score(d.Classes, teY, fp, fp1)
		foldAcc = append(foldAcc, fr.Accuracy)
		if fr.ROCAUC != nil {
			foldAUC = append(foldAUC, *fr.ROCAUC)
		}
		if progress != nil {
			fmt.Fprintf(progress, "  fold %d/%d: %d train, %d test, accuracy %.3f\n", f+1, k, len(trY), len(teY), fr.Accuracy)
		}
	}
	if len(d.Classes) != 2 {
		p1 = nil
	}
	r := Score(d.Classes, d.Labels, pred, p1)
	r.Decoder, r.Method = string(spec.Kind), fmt.Sprintf("%d-fold cross-validation (contiguous folds)", k)
	r.FoldAccuracy, r.FoldAUC = foldAcc, foldAUC
	if len(foldAUC) == k {
		// Report the mean of per-fold AUCs, as cross_val_score(scoring='roc_auc') does.
		mean := 0.0
		for _, v := range foldAUC {
			mean += v / float64(k)
		}
		r.ROCAUC = &mean
	}
	return r, nil
}

// Print writes a human-readable summary.
func (r *Report) Print(w io.Writer) {
	fmt.Fprintf(w, "%s, %s, %d trials: accuracy %.3f, kappa %.3f", r.Decoder, r.Method, r.NTrials, r.Accuracy, r.Kappa)
	if r.ROCAUC != nil {
		fmt.Fprintf(w, ", ROC-AUC %.3f", *r.ROCAUC)
	}
	fmt.Fprintf(w, "\nconfusion (rows true, columns predicted: %s):\n", strings.Join(r.Classes, ", "))
	for i, row := range r.Confusion {
		fmt.Fprintf(w, "  %-10s %v\n", r.Classes[i], row)
	}
}
