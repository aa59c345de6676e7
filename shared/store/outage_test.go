package store_test

import (
	"context"
	"errors"
	"math"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"threadsfunctions.dev/shared/store"
	"threadsfunctions.dev/shared/testenv"
)

// In a Firestore outage every operation ends, failing, once its bound has
// passed: the client would retry a failed read for ever and a write for a
// minute, and the function would answer its caller only at its timeout.
func TestOutageEndsEachOperationAtItsBound(t *testing.T) {
	tests := []struct {
		name  string
		rpc   string // failed, Unavailable, on every call
		first string // an RPC the operation must have made before (none: "")
		skip  int    // calls of rpc let through first
		setup func(ctx context.Context, s *store.Store) error
		op    func(ctx context.Context, s *store.Store) error
	}{
		{"a document read", testenv.RPCBatchGet, "", 0, nil, func(ctx context.Context, s *store.Store) error {
			_, err := s.GetAccount(ctx, "u-outage", "a1")
			return err
		}},
		{"a query", testenv.RPCRunQuery, "", 0, nil, func(ctx context.Context, s *store.Store) error {
			_, err := s.ListAccounts(ctx, "u-outage")
			return err
		}},
		{"a write", testenv.RPCCommit, "", 0, nil, func(ctx context.Context, s *store.Store) error {
			return s.CreateState(ctx, "state-outage", store.OAuthState{UID: "u-outage", Provider: store.Provider})
		}},
		{"a transaction", testenv.RPCBeginTx, "", 0, nil, func(ctx context.Context, s *store.Store) error {
			_, err := s.MarkNeedsReauth(ctx, "u-outage", "a1", time.Now(), time.Now())
			return err
		}},
		// The deletion's first step (the account disconnected) and its query
		// of the jobs answer; its first batch never does.
		{"a later step of a loop", testenv.RPCCommit, testenv.RPCRunQuery, 1, func(ctx context.Context, s *store.Store) error {
			now := time.Now()
			if err := s.SaveAccount(ctx, "u-outage", store.Account{AccountID: "a1", Status: store.StatusActive, TokenIssuedAt: now,
				ExpiresAt: now.Add(time.Hour), UpdatedAt: now}, "TOKEN"); err != nil {
				return err
			}
			_, _, err := s.CreateJob(ctx, &store.Job{JobID: "j1", UID: "u-outage", AccountID: "a1", Status: store.JobScheduled,
				PublishAt: now.Add(time.Hour), CreatedAt: now, UpdatedAt: now})
			return err
		}, func(ctx context.Context, s *store.Store) error {
			return s.DeleteAccountData(ctx, "u-outage", "a1", time.Now())
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			env := testenv.Require(t)
			fs, faults := env.FaultyFirestore(t)
			s := store.New(fs, newKeyring(t, "k1"), store.WithOpTimeout(300*time.Millisecond))
			if tt.setup != nil {
				if err := tt.setup(t.Context(), s); err != nil {
					t.Fatal(err)
				}
			}
			faults.FailNext(tt.rpc, tt.skip, math.MaxInt, codes.Unavailable)
			before := faults.Calls(tt.first)

			done := make(chan error, 1)
			go func() { done <- tt.op(t.Context(), s) }()
			var err error
			select {
			case err = <-done:
			case <-time.After(30 * time.Second):
				t.Fatalf("still waiting on %s after 30 s: the operation has no bound", tt.rpc)
			}
			if status.Code(err) != codes.DeadlineExceeded && !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("error = %v, want the bound's DeadlineExceeded", err)
			}
			if faults.Calls(tt.rpc) == 0 {
				t.Errorf("%s was never called", tt.rpc)
			}
			if tt.first != "" && faults.Calls(tt.first) == before {
				t.Errorf("%s was not called before %s", tt.first, tt.rpc)
			}
		})
	}
}
