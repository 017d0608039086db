// Command istio-validate checks Istio objects with the code istiod's validating admission
// webhook runs on them (istio.io/istio/pkg/webhooks/validation/server): the kind's schema
// among those istiod serves, the spec converted as istiod reads it, and the kind's validation
// function. The providers' tests send it every VirtualService and DestinationRule they write,
// so that what istiod would refuse fails a test here instead of a user's apply.
//
// It reads YAML or JSON objects (several, in a stream of documents) from its standard input
// and prints one JSON line per object: {"kind", "name", "error", "warnings"}, error empty when
// istiod would admit the object. It exits 0 when it could read every object, whatever the
// verdicts; the caller decides what an error means.
package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/hashicorp/go-multierror"
	kubeyaml "k8s.io/apimachinery/pkg/util/yaml"

	"istio.io/istio/pilot/pkg/config/kube/crd"
	"istio.io/istio/pkg/config/schema/collections"
	"istio.io/istio/pkg/config/schema/resource"
)

type verdict struct {
	Kind     string   `json:"kind"`
	Name     string   `json:"name"`
	Error    string   `json:"error"`
	Warnings []string `json:"warnings,omitempty"`
}

func main() {
	out := json.NewEncoder(os.Stdout)
	docs := kubeyaml.NewYAMLOrJSONDecoder(bufio.NewReader(os.Stdin), 4096)
	for {
		var raw json.RawMessage
		if err := docs.Decode(&raw); errors.Is(err, io.EOF) {
			return
		} else if err != nil {
			fmt.Fprintf(os.Stderr, "istio-validate: reading the objects: %v\n", err)
			os.Exit(2)
		}
		if len(raw) == 0 || string(raw) == "null" {
			continue
		}
		if err := out.Encode(validate(raw)); err != nil {
			fmt.Fprintf(os.Stderr, "istio-validate: %v\n", err)
			os.Exit(2)
		}
	}
}

// validate is the webhook's decision on one object, as the webhook takes it: decoded as an
// IstioKind, its schema found by group and kind (the version does not matter to istiod), the
// spec converted and validated.
func validate(raw []byte) verdict {
	var obj crd.IstioKind
	if err := json.Unmarshal(raw, &obj); err != nil {
		return verdict{Error: "cannot decode configuration: " + err.Error()}
	}
	gvk := obj.GroupVersionKind()
	v := verdict{Kind: gvk.Kind, Name: obj.Namespace + "/" + obj.Name}
	schema, ok := collections.PilotGatewayAPI().FindByGroupKind(resource.FromKubernetesGVK(&gvk))
	if !ok {
		v.Error = "unrecognized type " + gvk.String()
		return v
	}
	config, err := crd.ConvertObject(schema, &obj, "cluster.local")
	if err != nil {
		v.Error = "error decoding configuration: " + err.Error()
		return v
	}
	warnings, err := schema.ValidateConfig(*config)
	v.Warnings = messages(warnings)
	if err != nil {
		v.Error = "configuration is invalid: " + err.Error()
	}
	return v
}

// messages lists the warnings one by one, as the webhook returns them.
func messages(err error) []string {
	if err == nil {
		return nil
	}
	var many *multierror.Error
	if errors.As(err, &many) {
		var out []string
		for _, e := range many.Errors {
			out = append(out, e.Error())
		}
		return out
	}
	return []string{err.Error()}
}
