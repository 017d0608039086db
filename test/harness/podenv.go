package harness

import (
	"context"
	"fmt"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// containerEnv is the environment a kubelet gives a container when it starts it: envFrom's
// ConfigMaps and Secrets first, then env in order, a value naming variables defined before it
// as $(NAME). ConfigMaps and Secrets are read at that moment and never again, as a kubelet
// does: a change reaches only containers started after it. A reference that does not resolve
// (a missing object or key, not optional) is an error, and the kubelet does not start the
// container then.
func containerEnv(ctx context.Context, c client.Reader, namespace string, container corev1.Container) (map[string]string, error) {
	env := map[string]string{}
	r := configReader{ctx: ctx, c: c, namespace: namespace}
	for _, from := range container.EnvFrom {
		data, err := r.sourceData(from)
		if err != nil {
			return nil, err
		}
		for k, v := range data {
			env[from.Prefix+k] = v
		}
	}
	for _, e := range container.Env {
		if e.ValueFrom == nil {
			env[e.Name] = expand(e.Value, env)
			continue
		}
		v, ok, err := r.keyValue(e.ValueFrom)
		if err != nil {
			return nil, fmt.Errorf("env %s: %w", e.Name, err)
		}
		if ok {
			env[e.Name] = v
		}
	}
	return env, nil
}

// environ is env as a process environment, sorted.
func environ(env map[string]string) []string {
	list := make([]string, 0, len(env))
	for k, v := range env {
		list = append(list, k+"="+v)
	}
	sort.Strings(list)
	return list
}

// expand replaces $(NAME) in s with the variable's value, as Kubernetes does in a container's
// env values, command and args: $$ is a literal $, and a name that is not defined is left as
// it is written.
func expand(s string, env map[string]string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '$' || i+1 == len(s) {
			b.WriteByte(s[i])
			continue
		}
		switch next := s[i+1]; {
		case next == '$':
			b.WriteByte('$')
			i++
		case next == '(':
			end := strings.IndexByte(s[i+2:], ')')
			if end < 0 {
				b.WriteString(s[i:])
				return b.String()
			}
			name := s[i+2 : i+2+end]
			if v, ok := env[name]; ok {
				b.WriteString(v)
			} else {
				b.WriteString(s[i : i+3+end])
			}
			i += 2 + end
		default:
			b.WriteByte('$')
		}
	}
	return b.String()
}

// configReader reads the ConfigMaps and Secrets of a pod's namespace.
type configReader struct {
	ctx       context.Context
	c         client.Reader
	namespace string
}

func (r configReader) sourceData(from corev1.EnvFromSource) (map[string]string, error) {
	switch {
	case from.ConfigMapRef != nil:
		return r.data(false, from.ConfigMapRef.Name, ptr.Deref(from.ConfigMapRef.Optional, false))
	case from.SecretRef != nil:
		return r.data(true, from.SecretRef.Name, ptr.Deref(from.SecretRef.Optional, false))
	}
	return nil, nil
}

func (r configReader) keyValue(from *corev1.EnvVarSource) (string, bool, error) {
	var secret, optional bool
	var name, key string
	switch {
	case from.ConfigMapKeyRef != nil:
		name, key, optional = from.ConfigMapKeyRef.Name, from.ConfigMapKeyRef.Key, ptr.Deref(from.ConfigMapKeyRef.Optional, false)
	case from.SecretKeyRef != nil:
		secret, name, key, optional = true, from.SecretKeyRef.Name, from.SecretKeyRef.Key, ptr.Deref(from.SecretKeyRef.Optional, false)
	default:
		return "", false, nil // field and resource references: the demo app uses none
	}
	data, err := r.data(secret, name, optional)
	if err != nil {
		return "", false, err
	}
	v, ok := data[key]
	if !ok && !optional {
		return "", false, fmt.Errorf("key %q not found in %s", key, name)
	}
	return v, ok, nil
}

// data is a ConfigMap's or Secret's data; nothing when it is missing and optional.
func (r configReader) data(secret bool, name string, optional bool) (map[string]string, error) {
	key := types.NamespacedName{Namespace: r.namespace, Name: name}
	data := map[string]string{}
	var err error
	if secret {
		s := &corev1.Secret{}
		if err = r.c.Get(r.ctx, key, s); err == nil {
			for k, v := range s.Data {
				data[k] = string(v)
			}
		}
	} else {
		cm := &corev1.ConfigMap{}
		if err = r.c.Get(r.ctx, key, cm); err == nil {
			for k, v := range cm.Data {
				data[k] = v
			}
		}
	}
	if apierrors.IsNotFound(err) && optional {
		return nil, nil
	}
	return data, err
}
