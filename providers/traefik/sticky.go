package traefik

import (
	"encoding/json"
	"fmt"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/tranche-dev/tranche/providers"
)

// Session affinity is Traefik's own: a sticky cookie on the weighted section makes Traefik
// send a client back to the backend it chose first (Traefik chooses the cookie's value). A
// user may have a sticky section of their own; while Tranche's is there, theirs waits in the
// annotation stickyStash, whose presence also says the sticky section is Tranche's.
const stickyStash = stashPrefix + "sticky"

// setSticky writes Tranche's sticky cookie into the weighted section, or for nil gives the
// user's sticky section back.
func setSticky(ts *unstructured.Unstructured, weighted map[string]any, s *providers.Sticky) error {
	annotations := ts.GetAnnotations()
	if annotations == nil {
		annotations = map[string]string{}
	}
	stashed, owned := annotations[stickyStash]
	if s == nil {
		if !owned {
			return nil
		}
		delete(weighted, "sticky")
		if stashed != "" {
			var user any
			if err := json.Unmarshal([]byte(stashed), &user); err != nil {
				return fmt.Errorf("annotation %s: %w", stickyStash, err)
			}
			weighted["sticky"] = user
		}
		delete(annotations, stickyStash)
		ts.SetAnnotations(annotations)
		return nil
	}
	if !owned {
		stashed = ""
		if user, ok := weighted["sticky"]; ok {
			data, err := json.Marshal(user)
			if err != nil {
				return err
			}
			stashed = string(data)
		}
		annotations[stickyStash] = stashed
		ts.SetAnnotations(annotations)
	}
	weighted["sticky"] = map[string]any{"cookie": map[string]any{
		"name": s.Cookie, "maxAge": int64(s.MaxAge / time.Second), "httpOnly": true,
	}}
	return nil
}

// stickyOf reads Tranche's sticky cookie back; nil when the sticky section is not Tranche's.
func stickyOf(ts *unstructured.Unstructured) *providers.Sticky {
	if _, owned := ts.GetAnnotations()[stickyStash]; !owned {
		return nil
	}
	name, _, _ := unstructured.NestedString(ts.Object, "spec", "weighted", "sticky", "cookie", "name")
	maxAge, _, _ := unstructured.NestedFieldNoCopy(ts.Object, "spec", "weighted", "sticky", "cookie", "maxAge")
	seconds, ok := number(maxAge)
	if name == "" || !ok || seconds <= 0 {
		return nil
	}
	return &providers.Sticky{Cookie: name, MaxAge: time.Duration(seconds) * time.Second}
}
