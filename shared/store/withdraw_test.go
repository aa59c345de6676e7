package store_test

import (
	"errors"
	"testing"
	"time"

	"threadsfunctions.dev/shared/store"
	"threadsfunctions.dev/shared/testenv"
)

// TestWithdrawJobLosesToATouch: a job withdrawn by the request that created
// it (its task could not be created) is deleted only if nothing relied on it
// since; a repeat that made sure of its task touches it first and keeps it,
// or finds it withdrawn already.
func TestWithdrawJobLosesToATouch(t *testing.T) {
	s, _ := newStore(t)
	now := time.Now().UTC().Truncate(time.Microsecond)
	cases := []struct {
		name          string
		touchFirst    bool
		wantWithdrawn bool
		wantTouchErr  error
	}{
		{"withdrawn when untouched; a later touch finds it gone", false, true, store.ErrNotFound},
		{"kept when touched first", true, false, nil},
	}
	t.Run("a touch of a job changed since it was read leaves it alone", func(t *testing.T) {
		ctx := t.Context()
		j := &store.Job{JobID: "job-" + testenv.RandomID(t), UID: "uid-" + testenv.RandomID(t), AccountID: "17841400000000001",
			Kind: "text", Status: store.JobScheduled, PublishAt: now.Add(time.Hour), CreatedAt: now, UpdatedAt: now}
		createJob(t, s, j)
		read, err := s.GetJob(ctx, j.UID, j.AccountID, j.JobID)
		if err != nil {
			t.Fatal(err)
		}
		claimed, err := s.ClaimJob(ctx, j.UID, j.AccountID, j.JobID, "attempt", now, time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.TouchJob(ctx, read, now.Add(time.Second)); err != nil {
			t.Fatalf("TouchJob of a stale read = %v, want nil (left alone)", err)
		}
		// The attempt's conditional write still goes through.
		claimed.Status = store.JobAccepted
		if err := s.UpdateJob(ctx, claimed, "attempt", now.Add(2*time.Second), false); err != nil {
			t.Errorf("the attempt's write after the touch: %v", err)
		}
	})
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx := t.Context()
			j := &store.Job{JobID: "job-" + testenv.RandomID(t), UID: "uid-" + testenv.RandomID(t), AccountID: "17841400000000001",
				Kind: "text", Status: store.JobScheduled, PublishAt: now.Add(time.Hour), CreatedAt: now, UpdatedAt: now}
			created := createJob(t, s, j)
			repeat, err := s.GetJob(ctx, j.UID, j.AccountID, j.JobID) // the repeat's read
			if err != nil {
				t.Fatal(err)
			}
			var touchErr error
			if tc.touchFirst {
				touchErr = s.TouchJob(ctx, repeat, now.Add(time.Second))
			}
			withdrawn, err := s.WithdrawJob(ctx, created)
			if err != nil || withdrawn != tc.wantWithdrawn {
				t.Fatalf("WithdrawJob = %v, %v; want %v", withdrawn, err, tc.wantWithdrawn)
			}
			if !tc.touchFirst {
				touchErr = s.TouchJob(ctx, repeat, now.Add(time.Second))
			}
			if !errors.Is(touchErr, tc.wantTouchErr) {
				t.Errorf("TouchJob = %v, want %v", touchErr, tc.wantTouchErr)
			}
			_, getErr := s.GetJob(ctx, j.UID, j.AccountID, j.JobID)
			if gone := errors.Is(getErr, store.ErrNotFound); gone != tc.wantWithdrawn {
				t.Errorf("job gone = %v (%v), want %v", gone, getErr, tc.wantWithdrawn)
			}
		})
	}
}
