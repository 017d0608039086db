package harness

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os/exec"
	"path/filepath"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// IstioVerdict is what istiod's validating webhook would answer for one object: Error is
// empty when it would admit it.
type IstioVerdict struct {
	Kind     string   `json:"kind"`
	Name     string   `json:"name"`
	Error    string   `json:"error"`
	Warnings []string `json:"warnings,omitempty"`
}

// IstioValidate checks objects with Istio's own validation, the code istiod's admission
// webhook runs (istio-validate, built with istiod by `make istio`), one verdict per object
// in order.
func IstioValidate(objects []*unstructured.Unstructured) ([]IstioVerdict, error) {
	dir, err := FindIstio()
	if err != nil {
		return nil, err
	}
	var in bytes.Buffer
	for _, obj := range objects {
		data, err := json.Marshal(obj.Object)
		if err != nil {
			return nil, err
		}
		in.Write(append(data, '\n'))
	}
	cmd := exec.Command(filepath.Join(dir, "istio-validate"))
	cmd.Stdin = &in
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("harness: istio-validate: %w: %s", err, stderr.String())
	}
	var verdicts []IstioVerdict
	dec := json.NewDecoder(bytes.NewReader(out))
	for dec.More() {
		var v IstioVerdict
		if err := dec.Decode(&v); err != nil {
			return nil, fmt.Errorf("harness: istio-validate's answer: %w", err)
		}
		verdicts = append(verdicts, v)
	}
	if len(verdicts) != len(objects) {
		return nil, fmt.Errorf("harness: istio-validate answered %d verdicts for %d objects", len(verdicts), len(objects))
	}
	return verdicts, nil
}
