package onnx

import (
	"errors"
	"fmt"

	ort "github.com/yalue/onnxruntime_go"
)

// Model is an ONNX session with its input and output tensors allocated once: Run reads Input and
// writes Output in place, so running it allocates nothing.
type Model struct {
	contract *Contract
	session  *ort.AdvancedSession
	input    *ort.Tensor[float32]
	subject  *ort.Tensor[int64] // nil unless the contract lists subjects
	output   *ort.Tensor[float32]
}

// OpenModel loads an ONNX file and its contract (metadata, else the sidecar file) and checks that the
// graph's input and output shapes agree with the contract. The session uses the Runtime's threads.
func (r *Runtime) OpenModel(path string) (*Model, error) { return r.openModel(path, 0) }

// openModel is OpenModel with intra intra-op threads for this session (0: the Runtime's).
func (r *Runtime) openModel(path string, intra int) (*Model, error) {
	contract, err := readContract(path)
	if err != nil {
		return nil, err
	}
	ins, outs, err := ort.GetInputOutputInfo(path)
	if err != nil {
		return nil, fmt.Errorf("model %s: reading its inputs and outputs: %w", path, err)
	}
	if err := checkGraph(contract, ins, outs); err != nil {
		return nil, fmt.Errorf("model %s: %w", path, err)
	}

	m := &Model{contract: contract}
	m.input, err = ort.NewEmptyTensor[float32](ort.NewShape(contract.Input.Shape...))
	if err != nil {
		return nil, fmt.Errorf("model %s: input tensor: %w", path, err)
	}
	outShape := ort.NewShape(1, int64(contract.outputSize()))
	for _, o := range outs {
		if o.Name == contract.Output.Name {
			outShape = o.Dimensions
		}
	}
	m.output, err = ort.NewEmptyTensor[float32](outShape)
	if err != nil {
		m.Close()
		return nil, fmt.Errorf("model %s: output tensor: %w", path, err)
	}
	inNames := []string{contract.Input.Name}
	inValues := []ort.Value{m.input}
	if len(contract.Subjects) > 0 {
		m.subject, err = ort.NewTensor(ort.NewShape(1), []int64{0})
		if err != nil {
			m.Close()
			return nil, fmt.Errorf("model %s: subject tensor: %w", path, err)
		}
		inNames = append(inNames, "subject")
		inValues = append(inValues, m.subject)
	}
	opts, err := r.sessionOptions(intra)
	if err != nil {
		m.Close()
		return nil, err
	}
	defer opts.Destroy()
	m.session, err = ort.NewAdvancedSession(path, inNames, []string{contract.Output.Name}, inValues, []ort.Value{m.output}, opts)
	if err != nil {
		m.Close()
		return nil, fmt.Errorf("model %s: creating the session: %w", path, err)
	}
	return m, nil
}

func readContract(path string) (*Contract, error) {
	meta, err := ort.GetModelMetadata(path)
	if err != nil {
		return nil, fmt.Errorf("model %s: reading its metadata: %w", path, err)
	}
	defer meta.Destroy()
	value, ok, err := meta.LookupCustomMetadataMap(ContractKey)
	if err != nil {
		return nil, fmt.Errorf("model %s: reading metadata %q: %w", path, ContractKey, err)
	}
	if !ok {
		return readSidecar(path)
	}
	c, err := ParseContract([]byte(value))
	if err != nil {
		return nil, fmt.Errorf("model %s: %w", path, err)
	}
	return c, nil
}

func checkGraph(c *Contract, ins, outs []ort.InputOutputInfo) error {
	wantIn := map[string]bool{c.Input.Name: true}
	if len(c.Subjects) > 0 {
		wantIn["subject"] = true
	}
	if len(ins) != len(wantIn) {
		return fmt.Errorf("graph has %d inputs, contract describes %d", len(ins), len(wantIn))
	}
	for _, in := range ins {
		if !wantIn[in.Name] {
			return fmt.Errorf("graph input %q is not in the contract", in.Name)
		}
		if in.Name == c.Input.Name {
			if in.DataType != ort.TensorElementDataTypeFloat {
				return fmt.Errorf("graph input %q is %v, want float32", in.Name, in.DataType)
			}
			if !in.Dimensions.Equals(ort.NewShape(c.Input.Shape...)) {
				return fmt.Errorf("graph input %q has shape %v, contract says %v", in.Name, in.Dimensions, c.Input.Shape)
			}
		} else if in.DataType != ort.TensorElementDataTypeInt64 {
			return fmt.Errorf("graph input %q is %v, want int64", in.Name, in.DataType)
		}
	}
	for _, o := range outs {
		if o.Name != c.Output.Name {
			continue
		}
		if o.DataType != ort.TensorElementDataTypeFloat {
			return fmt.Errorf("graph output %q is %v, want float32", o.Name, o.DataType)
		}
		if int(o.Dimensions.FlattenedSize()) != c.outputSize() {
			return fmt.Errorf("graph output %q has shape %v (%d values), contract expects %d", o.Name, o.Dimensions,
				o.Dimensions.FlattenedSize(), c.outputSize())
		}
		return nil
	}
	return fmt.Errorf("graph has no output %q", c.Output.Name)
}

// Contract returns the model's contract; do not modify it.
func (m *Model) Contract() *Contract { return m.contract }

// Input is the input tensor's data, channel-major [channels][window_samples] flattened.
func (m *Model) Input() []float32 { return m.input.GetData() }

// Output is the output tensor's data, valid after Run.
func (m *Model) Output() []float32 { return m.output.GetData() }

// SetSubject selects the subject layer for models whose contract lists subjects.
func (m *Model) SetSubject(index int) error {
	if m.subject == nil {
		return fmt.Errorf("model %s has no subject input", m.contract.Name)
	}
	if index < 0 || index >= len(m.contract.Subjects) {
		return fmt.Errorf("model %s: subject index %d outside 0..%d", m.contract.Name, index, len(m.contract.Subjects)-1)
	}
	m.subject.GetData()[0] = int64(index)
	return nil
}

// Run executes the model on the current Input.
func (m *Model) Run() error {
	if m.session == nil {
		return errors.New("onnx model: closed")
	}
	if err := m.session.Run(); err != nil {
		return fmt.Errorf("onnx model %s: run: %w", m.contract.Name, err)
	}
	return nil
}

// Close releases the session and tensors.
func (m *Model) Close() error {
	var errs []error
	if m.session != nil {
		errs = append(errs, m.session.Destroy())
		m.session = nil
	}
	if m.input != nil {
		errs = append(errs, m.input.Destroy())
	}
	if m.output != nil {
		errs = append(errs, m.output.Destroy())
	}
	if m.subject != nil {
		errs = append(errs, m.subject.Destroy())
	}
	m.input, m.output, m.subject = nil, nil, nil
	return errors.Join(errs...)
}
