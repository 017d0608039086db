package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"

	eventsv1 "k8s.io/api/events/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	trancheapi "github.com/tranche-dev/tranche/api/v1alpha1"
)

// -w follows what it shows through the API server's watch: an informer lists once, then
// follows a watch, resumes it when the connection drops and lists again when the watch
// expires. Nothing is read again on a timer.

// errNotListed is what a watch has to show before its first list arrived.
var errNotListed = errors.New("not listed yet")

// RolloutWatch follows the Rollouts of some namespaces, or of all.
type RolloutWatch struct {
	rollouts []*follower // one a namespace
	changed  chan struct{}
}

// WatchRollouts follows the Rollouts of a namespace ("" for all) until ctx ends.
func WatchRollouts(ctx context.Context, c client.WithWatch, namespace string) *RolloutWatch {
	return WatchRolloutsIn(ctx, c, []string{namespace})
}

// WatchRolloutsIn follows the Rollouts of the namespaces given ("" for all) until ctx ends:
// a watch each, for a user who may list Rollouts in some namespaces only.
func WatchRolloutsIn(ctx context.Context, c client.WithWatch, namespaces []string) *RolloutWatch {
	w := &RolloutWatch{changed: make(chan struct{}, 1)}
	for _, ns := range namespaces {
		w.rollouts = append(w.rollouts, follow(ctx, c, &trancheapi.RolloutList{}, &trancheapi.Rollout{}, ns, nil, w.changed))
	}
	return w
}

// Changed receives after every change of what Rollouts returns.
func (w *RolloutWatch) Changed() <-chan struct{} { return w.changed }

// Rollouts returns the Rollouts as last seen, sorted as List sorts them, or why there are
// none to show: the first list has not arrived, or the last one or the watch failed (the
// error lasts until the watch is back).
func (w *RolloutWatch) Rollouts() ([]trancheapi.Rollout, error) {
	var rollouts []trancheapi.Rollout
	for _, f := range w.rollouts {
		objects, err := f.objects()
		if err != nil {
			return nil, err
		}
		rollouts = append(rollouts, rolloutsOf(objects)...)
	}
	sortRollouts(rollouts)
	return rollouts, nil
}

// rolloutsOf is what a follower of Rollouts holds, as Rollouts.
func rolloutsOf(objects []any) []trancheapi.Rollout {
	rollouts := make([]trancheapi.Rollout, 0, len(objects))
	for _, obj := range objects {
		rollouts = append(rollouts, *obj.(*trancheapi.Rollout))
	}
	return rollouts
}

// ViewWatch follows one Rollout, its events and the members of its group.
type ViewWatch struct {
	key              types.NamespacedName
	rollouts, events *follower
	changed          chan struct{}
}

// WatchView follows the Rollout key names, the events about it and the other Rollouts of its
// namespace (its group's members are among them, and the group can change) until ctx ends.
func WatchView(ctx context.Context, c client.WithWatch, key types.NamespacedName) *ViewWatch {
	w := &ViewWatch{key: key, changed: make(chan struct{}, 1)}
	w.rollouts = follow(ctx, c, &trancheapi.RolloutList{}, &trancheapi.Rollout{}, key.Namespace, nil, w.changed)
	w.events = follow(ctx, c, &eventsv1.EventList{}, &eventsv1.Event{}, key.Namespace, fields.AndSelectors(
		fields.OneTermEqualSelector("regarding.kind", "Rollout"), fields.OneTermEqualSelector("regarding.name", key.Name)), w.changed)
	return w
}

// Changed receives after every change of what View returns.
func (w *ViewWatch) Changed() <-chan struct{} { return w.changed }

// View returns the Rollout and its events as last seen, or why there is nothing to show:
// as Rollouts says, or the Rollout does not exist (yet, or any more).
func (w *ViewWatch) View() (View, error) {
	objects, err := w.rollouts.objects()
	if err != nil {
		return View{}, err
	}
	rollouts := rolloutsOf(objects)
	i := slices.IndexFunc(rollouts, func(ro trancheapi.Rollout) bool { return ro.Name == w.key.Name })
	if i < 0 {
		return View{}, fmt.Errorf("rollout %s not found in namespace %s", w.key.Name, w.key.Namespace)
	}
	events, err := w.events.objects()
	if err != nil {
		return View{}, err
	}
	list := make([]eventsv1.Event, 0, len(events))
	for _, e := range events {
		list = append(list, *e.(*eventsv1.Event))
	}
	return viewOf(&rollouts[i], list, rollouts), nil
}

// follower keeps a cache of the objects of one list (of items like item), of a namespace
// and with fields when not nil, through an informer, and signals changed after every change.
type follower struct {
	informer cache.SharedIndexInformer
	changed  chan<- struct{}

	mu sync.Mutex
	// err is the last list or watch failure; it lasts while the informer's resource version
	// is still errAt, the one it had when it failed.
	err   error
	errAt string
}

func follow(ctx context.Context, c client.WithWatch, list client.ObjectList, item runtime.Object, namespace string, selector fields.Selector, changed chan<- struct{}) *follower {
	opts := func(raw metav1.ListOptions) *client.ListOptions {
		return &client.ListOptions{Namespace: namespace, FieldSelector: selector, Raw: &raw}
	}
	lw := &cache.ListWatch{
		ListWithContextFunc: func(ctx context.Context, raw metav1.ListOptions) (runtime.Object, error) {
			into := list.DeepCopyObject().(client.ObjectList)
			return into, c.List(ctx, into, opts(raw))
		},
		WatchFuncWithContext: func(ctx context.Context, raw metav1.ListOptions) (watch.Interface, error) {
			return c.Watch(ctx, list.DeepCopyObject().(client.ObjectList), opts(raw))
		},
	}
	f := &follower{informer: cache.NewSharedIndexInformerWithOptions(lw, item, cache.SharedIndexInformerOptions{}), changed: changed}
	_ = f.informer.SetWatchErrorHandlerWithContext(func(_ context.Context, _ *cache.Reflector, err error) {
		if errors.Is(err, io.EOF) || apierrors.IsResourceExpired(err) || apierrors.IsGone(err) {
			return // the watch ended as watches do: the informer watches, or lists, again
		}
		f.mu.Lock()
		f.err, f.errAt = err, f.informer.LastSyncResourceVersion()
		f.mu.Unlock()
		f.signal()
	})
	_, _ = f.informer.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(any) { f.signal() },
		UpdateFunc: func(any, any) { f.signal() },
		DeleteFunc: func(any) { f.signal() },
	})
	go f.informer.RunWithContext(ctx)
	go func() {
		// An empty list adds nothing: say when it has arrived.
		if cache.WaitForCacheSync(ctx.Done(), f.informer.HasSynced) {
			f.signal()
		}
	}()
	return f
}

func (f *follower) signal() {
	select {
	case f.changed <- struct{}{}:
	default: // a signal is already waiting: one redraw shows both changes
	}
}

// objects returns what the cache holds, or errNotListed before the first list, or the last
// failure while the informer has not read anything since.
func (f *follower) objects() ([]any, error) {
	f.mu.Lock()
	err, errAt := f.err, f.errAt
	f.mu.Unlock()
	switch {
	case err != nil && f.informer.LastSyncResourceVersion() == errAt:
		return nil, err
	case !f.informer.HasSynced():
		return nil, errNotListed
	}
	return f.informer.GetStore().List(), nil
}
