package secrets

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"cloud.google.com/go/secretmanager/apiv1/secretmanagerpb"
)

// blockingFetch returns a fetch that blocks each call until release is
// closed or its context ends, and counts calls.
func blockingFetch(release <-chan struct{}, started chan<- struct{}, calls *atomic.Int32) fetchFunc {
	return func(ctx context.Context, name string) (*secretmanagerpb.AccessSecretVersionResponse, error) {
		calls.Add(1)
		started <- struct{}{}
		select {
		case <-release:
			return &secretmanagerpb.AccessSecretVersionResponse{
				Name:    name,
				Payload: &secretmanagerpb.SecretPayload{Data: []byte("v")},
			}, nil
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// A waiter must not inherit the cancellation of the caller that started the
// shared fetch: it retries with its own context.
func TestAccessLeaderCanceledWaiterRetries(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	started := make(chan struct{}, 2)
	var calls atomic.Int32
	sm := newSecretManager(blockingFetch(release, started, &calls))

	leaderCtx, cancelLeader := context.WithCancel(t.Context())
	leaderErr := make(chan error, 1)
	go func() {
		_, err := sm.Access(leaderCtx, "n")
		leaderErr <- err
	}()
	<-started // the leader's fetch is in flight

	var wg sync.WaitGroup
	var waiterVal []byte
	var waiterErr error
	wg.Go(func() { waiterVal, waiterErr = sm.Access(t.Context(), "n") })
	// Give the waiter time to join the in-flight call. If it is late, it
	// starts its own fetch after the leader's failure instead; the assertions
	// below hold either way, only the path differs.
	time.Sleep(20 * time.Millisecond)

	cancelLeader()
	if err := <-leaderErr; !errors.Is(err, context.Canceled) {
		t.Errorf("leader err = %v, want context.Canceled", err)
	}
	<-started // the waiter started its own fetch
	close(release)
	wg.Wait()
	if waiterErr != nil || string(waiterVal) != "v" {
		t.Errorf("waiter got (%q, %v), want (\"v\", nil)", waiterVal, waiterErr)
	}
	if got := calls.Load(); got != 2 {
		t.Errorf("fetch calls = %d, want 2", got)
	}
}

// A waiter whose own context ends stops waiting at once; the fetch carries on
// for the caller that started it.
func TestAccessWaiterCanceled(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	started := make(chan struct{}, 1)
	var calls atomic.Int32
	sm := newSecretManager(blockingFetch(release, started, &calls))

	leaderDone := make(chan error, 1)
	go func() {
		_, err := sm.Access(t.Context(), "n")
		leaderDone <- err
	}()
	<-started

	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := sm.Access(ctx, "n"); !errors.Is(err, context.Canceled) {
		t.Errorf("canceled waiter err = %v, want context.Canceled", err)
	}
	close(release)
	if err := <-leaderDone; err != nil {
		t.Errorf("leader err = %v", err)
	}
	if got := calls.Load(); got != 1 {
		t.Errorf("fetch calls = %d, want 1", got)
	}
}

// A panicking fetch must not leave later callers blocked forever.
func TestAccessFetchPanicReleasesWaiters(t *testing.T) {
	t.Parallel()
	var n atomic.Int32
	sm := newSecretManager(func(context.Context, string) (*secretmanagerpb.AccessSecretVersionResponse, error) {
		if n.Add(1) == 1 {
			panic("boom")
		}
		return &secretmanagerpb.AccessSecretVersionResponse{Payload: &secretmanagerpb.SecretPayload{Data: []byte("v")}}, nil
	})
	func() {
		defer func() { _ = recover() }()
		_, _ = sm.Access(t.Context(), "n")
	}()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	if v, err := sm.Access(ctx, "n"); err != nil || string(v) != "v" {
		t.Errorf("Access after panic = (%q, %v), want (\"v\", nil)", v, err)
	}
}
