package v1alpha1

import (
	"encoding/json"
	"fmt"
	"hash/fnv"

	corev1 "k8s.io/api/core/v1"
)

// TemplateRevision is the revision Tranche names a pod template by, as in
// status.stableRevision and status.canaryRevision: a hash of the whole template, so that a
// change to anything in it is a new revision and the same template is always the same one.
// Clients compare it with the status to tell which template a rollout is about. The
// nodeSelector that parks a DaemonSet (NodeSelectorParked) is Tranche's, not the template's
// version, and is left out.
func TemplateRevision(template corev1.PodTemplateSpec) string {
	if _, parked := template.Spec.NodeSelector[NodeSelectorParked]; parked {
		template = *template.DeepCopy()
		delete(template.Spec.NodeSelector, NodeSelectorParked) // an empty map marshals as none
	}
	data, _ := json.Marshal(template) // a PodTemplateSpec always marshals
	h := fnv.New64a()
	_, _ = h.Write(data)
	return fmt.Sprintf("%010x", h.Sum64())[:10]
}
