package traefik

import (
	"encoding/json"
	"fmt"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/tranche-dev/tranche/providers"
	"github.com/tranche-dev/tranche/providers/traffic"
)

// Session affinity is Traefik's own: a sticky cookie on the weighted section makes Traefik
// send a client back to the backend it chose first (Traefik chooses the cookie's value). A
// user may have a sticky section of their own; while Tranche's is there, theirs waits in the
// annotation stickyStash, whose presence also says the sticky section is Tranche's.
const stickyStash = stashPrefix + "sticky"

// setSticky writes Tranche's sticky cookie into the weighted section, or for nil gives the
// user's sticky section back.
func setSticky(ts *unstructured.Unstructured, weighted map[string]any, s *traffic.Sticky) error {
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
func stickyOf(ts *unstructured.Unstructured) (*traffic.Sticky, error) {
	if _, owned := ts.GetAnnotations()[stickyStash]; !owned {
		return nil, nil
	}
	cookie := providers.Fields(ts).Get("spec", "weighted", "sticky", "cookie")
	name, _, err := cookie.Get("name").AsString()
	if err != nil {
		return nil, err
	}
	seconds, found, err := cookie.Get("maxAge").AsInt()
	if err != nil {
		return nil, err
	}
	if name == "" || !found || seconds <= 0 {
		return nil, nil
	}
	return &traffic.Sticky{Cookie: name, MaxAge: time.Duration(seconds) * time.Second}, nil
}
