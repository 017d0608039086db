package harness

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// The API server's audit log, when Options.Audit asks for it: every request's verb, user
// agent and object, as the API server saw them, for tests to say who read and wrote what.

// auditPolicy logs the metadata of every request once it is answered.
const auditPolicy = `apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: [RequestReceived, ResponseStarted]
rules:
- level: Metadata
`

// AuditEveryRequest logs the metadata of every request, a watch as soon as it starts (the
// default policy logs a watch only once it ends, which for a controller's informers may be
// after the test).
const AuditEveryRequest = `apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: [RequestReceived]
rules:
- level: Metadata
`

// AuditWrites is an audit policy for benches: the writes alone, and none of those the
// cluster's own controllers and kubelets make by the thousand (pods, their ReplicaSets and
// EndpointSlices, nodes, leases), so that the log of 10,000 Rollouts stays small.
const AuditWrites = `apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: [RequestReceived, ResponseStarted]
rules:
- level: None
  resources:
  - {group: "", resources: [pods, pods/status, pods/binding, nodes, nodes/status]}
  - {group: apps, resources: [replicasets, replicasets/status]}
  - {group: discovery.k8s.io, resources: [endpointslices]}
  - {group: coordination.k8s.io, resources: [leases]}
- level: Metadata
  verbs: [create, update, patch, delete, deletecollection]
- level: None
`

// AuditBodies is a policy that logs every request's metadata, and the bodies of the writes of
// the group's resources given (a subresource as "resource/subresource"), for tests that say
// what a write carried.
func AuditBodies(group string, resources ...string) string {
	var rules strings.Builder
	rules.WriteString("apiVersion: audit.k8s.io/v1\nkind: Policy\nomitStages: [RequestReceived, ResponseStarted]\nrules:\n")
	for _, r := range resources {
		fmt.Fprintf(&rules, "- level: Request\n  verbs: [create, update, patch]\n  resources: [{group: %q, resources: [%q]}]\n", group, r)
	}
	rules.WriteString("- level: Metadata\n")
	return rules.String()
}

// AuditEvent is one request the API server answered.
type AuditEvent struct {
	Verb      string `json:"verb"`
	UserAgent string `json:"userAgent"`
	User      struct {
		Username string `json:"username"`
	} `json:"user"`
	// ImpersonatedUser is whom the request acted as, when its user impersonated another.
	ImpersonatedUser *struct {
		Username string   `json:"username"`
		Groups   []string `json:"groups"`
	} `json:"impersonatedUser,omitempty"`
	// RequestURI is the path asked for: the only thing said of a request for no resource
	// (discovery's /api and /apis, /version), whose ObjectRef is empty.
	RequestURI     string    `json:"requestURI"`
	StageTimestamp time.Time `json:"stageTimestamp"`
	ObjectRef      struct {
		Resource, Namespace, Name, APIGroup, Subresource string
	} `json:"objectRef"`
	ResponseStatus struct {
		Code int `json:"code"`
	} `json:"responseStatus"`
	// Annotations carry the authorizer's word: "authorization.k8s.io/decision" is "allow"
	// or "forbid" (a request forbidden otherwise, say in a namespace being deleted, has
	// "allow" and a 403).
	Annotations map[string]string `json:"annotations,omitempty"`
	// RequestObject is the request's body, where the policy logs it (see AuditBodies).
	RequestObject json.RawMessage `json:"requestObject,omitempty"`
}

// Writes reports whether the request changed something.
func (e AuditEvent) Writes() bool {
	switch e.Verb {
	case "create", "update", "patch", "delete", "deletecollection":
		return true
	}
	return false
}

func (e AuditEvent) String() string {
	o := e.ObjectRef
	return fmt.Sprintf("%s %s/%s %s/%s (%s) -> %d", e.Verb, o.Resource, o.Subresource, o.Namespace, o.Name, e.UserAgent, e.ResponseStatus.Code)
}

// auditArgs writes the policy (the default one when "") to dir and returns the API server's
// flags for the log.
func auditArgs(dir, rules string) (map[string]string, string, error) {
	policy := filepath.Join(dir, "audit-policy.yaml")
	if rules == "" {
		rules = auditPolicy
	}
	if err := os.WriteFile(policy, []byte(rules), 0o600); err != nil {
		return nil, "", err
	}
	log := filepath.Join(dir, "audit.log")
	return map[string]string{
		"audit-policy-file": policy, "audit-log-path": log, "audit-log-format": "json",
		// Written as it happens: the default batches, and a test reads the log at once.
		"audit-log-mode": "blocking",
	}, log, nil
}

// Audit is every request the API server has answered so far whose user agent contains
// agent ("" for all). It fails when the control plane was started without Options.Audit.
func (cp *ControlPlane) Audit(agent string) ([]AuditEvent, error) {
	if cp.auditLog == "" {
		return nil, fmt.Errorf("harness: the control plane was started without Options.Audit")
	}
	f, err := os.Open(cp.auditLog)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var events []AuditEvent
	scanner := bufio.NewScanner(f)
	scanner.Buffer(make([]byte, 1<<20), 16<<20)
	for scanner.Scan() {
		var e AuditEvent
		if err := json.Unmarshal(scanner.Bytes(), &e); err != nil {
			continue // a line being written
		}
		if strings.Contains(e.UserAgent, agent) {
			events = append(events, e)
		}
	}
	return events, scanner.Err()
}
