package providers

import (
	"context"
	"fmt"
	"maps"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	trancheapi "github.com/tranche-dev/tranche/api/v1alpha1"
)

// Labels every object Tranche creates for a Rollout carries, so that a person (or a label
// selector) can tell them from the user's own objects.
const (
	LabelManagedBy = "app.kubernetes.io/managed-by"
	LabelRollout   = "tranche.dev/rollout"
	managedByValue = "tranche"
)

// Labels returns the labels of the objects Tranche creates for the Rollout. The map is new
// on every call, so a caller may change it.
func Labels(ro *trancheapi.Rollout) map[string]string {
	return map[string]string{LabelManagedBy: managedByValue, LabelRollout: ro.Name}
}

// Annotations returns the annotations of the objects Tranche creates, for Argo CD. Argo CD
// does not track them (they carry no Application's tracking label or annotation) and shows
// them under the Rollout that owns them; should a tracking label reach one all the same
// (copied by a tool), IgnoreExtraneous keeps it from counting as out of sync and Prune=false
// keeps a sync from deleting it.
func Annotations() map[string]string {
	return map[string]string{
		"argocd.argoproj.io/compare-options": "IgnoreExtraneous",
		"argocd.argoproj.io/sync-options":    "Prune=false",
	}
}

// DesiredServices builds the Rollout's three ClusterIP Services (see Services for their
// names): the apex Service, which clients call, and the primary Service both select
// primarySelector; the canary Service selects canarySelector. The apex Service's selector is
// the controller's only at creation: afterwards it belongs to the Router, which may point it
// at the canary (blue/green). The Services carry no owner reference; the caller sets one.
func DesiredServices(ro *trancheapi.Rollout, primarySelector, canarySelector map[string]string) (apex, primary, canary *corev1.Service) {
	names := ro.ServiceNames()
	return service(ro, names.Apex, primarySelector),
		service(ro, names.Primary, primarySelector),
		service(ro, names.Canary, canarySelector)
}

func service(ro *trancheapi.Rollout, name string, selector map[string]string) *corev1.Service {
	var ports []corev1.ServicePort
	for _, p := range ro.Spec.Service.AllPorts() {
		ports = append(ports, corev1.ServicePort{Name: p.Name, Protocol: corev1.ProtocolTCP, Port: p.Port, TargetPort: *p.TargetPort})
	}
	return &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: ro.Namespace, Name: name, Labels: Labels(ro), Annotations: Annotations()},
		Spec: corev1.ServiceSpec{
			Type:     corev1.ServiceTypeClusterIP,
			Selector: maps.Clone(selector),
			Ports:    ports,
		},
	}
}

// ServiceObjects are a Rollout's three Services as the cluster has them.
type ServiceObjects struct {
	Apex, Primary, Canary *corev1.Service
}

// GetServices reads the Rollout's three Services. A missing one is an error that names it and
// satisfies apierrors.IsNotFound: the controller creates them before it asks a Router to
// route, so a missing one means that step has not run (or a person deleted it).
func GetServices(ctx context.Context, c client.Reader, ro *trancheapi.Rollout) (ServiceObjects, error) {
	names := ro.ServiceNames()
	var objs ServiceObjects
	for _, s := range []struct {
		role, name string
		into       **corev1.Service
	}{
		{"apex", names.Apex, &objs.Apex},
		{"primary", names.Primary, &objs.Primary},
		{"canary", names.Canary, &objs.Canary},
	} {
		svc := &corev1.Service{}
		if err := c.Get(ctx, client.ObjectKey{Namespace: ro.Namespace, Name: s.name}, svc); err != nil {
			if apierrors.IsNotFound(err) {
				return ServiceObjects{}, fmt.Errorf("the %s Service %s/%s does not exist (the controller creates it before routing): %w",
					s.role, ro.Namespace, s.name, err)
			}
			return ServiceObjects{}, fmt.Errorf("reading the %s Service %s/%s: %w", s.role, ro.Namespace, s.name, err)
		}
		*s.into = svc
	}
	return objs, nil
}
