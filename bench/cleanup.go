package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"cloud.google.com/go/firestore"
	"google.golang.org/api/iterator"
)

// clearLoadDocs deletes the documents the loads left in the Firestore
// emulator: the OAuth states and publish jobs of the users the benchmark
// signed up or made up ("bench-" uids), and the accounts thAuthCallback
// connected for the made-up ones. The emulator slows down as it fills (its
// CPU per text publish went from 9 ms early in a full run to 36 ms at the
// end), which Firestore does not. The fixtures (the publishing users'
// accounts) and every other document stay, so it is safe on an emulator
// shared with tests. It runs between rounds, never during a measurement, and
// returns how many documents it deleted.
func (b *bench) clearLoadDocs(ctx context.Context) (int, error) {
	ours := func(uid string) bool { return b.users[uid] || strings.HasPrefix(uid, "bench-") }
	bw := b.fs.BulkWriter(ctx)
	var jobs []*firestore.BulkWriterJob
	queue := func(q firestore.Query, del func(*firestore.DocumentSnapshot) bool) error {
		it := q.Documents(ctx)
		defer it.Stop()
		for {
			snap, err := it.Next()
			if errors.Is(err, iterator.Done) {
				return nil
			}
			if err != nil {
				return err
			}
			if !del(snap) {
				continue
			}
			j, err := bw.Delete(snap.Ref)
			if err != nil {
				return err
			}
			jobs = append(jobs, j)
		}
	}
	byUIDField := func(snap *firestore.DocumentSnapshot) bool {
		uid, _ := snap.Data()["uid"].(string)
		return ours(uid)
	}
	// users/{uid}/integrations/threads/accounts/{id}
	byMadeUpOwner := func(snap *firestore.DocumentSnapshot) bool {
		parts := strings.Split(snap.Ref.Path, "/documents/")
		segs := strings.Split(parts[len(parts)-1], "/")
		return len(segs) == 6 && segs[0] == "users" && strings.HasPrefix(segs[1], "bench-")
	}
	err := errors.Join(
		queue(b.fs.Collection("oauthStates").Select("uid"), byUIDField),
		queue(b.fs.CollectionGroup("accounts").Select(), byMadeUpOwner),
		queue(b.fs.CollectionGroup("jobs").Select("uid"), byUIDField),
	)
	bw.End()
	if err != nil {
		return 0, fmt.Errorf("clear the loads' documents: %w", err)
	}
	for _, j := range jobs {
		if _, err := j.Results(); err != nil {
			return 0, fmt.Errorf("clear the loads' documents: %w", err)
		}
	}
	return len(jobs), nil
}

// resetFirestore, with -reset-firestore, empties the benchmark's project in
// the Firestore emulator and stores the fixtures again. Deleting the loads'
// documents one by one (clearLoadDocs) is not enough across functions: the
// emulator stays slower after many documents were written and deleted, which
// Firestore does not; its reset endpoint drops the project's data
// altogether. (It helps, 45 -> 51 req/s for thPublish after the same
// warm-ups, but the emulator also slows with the work it has done.)
func (b *bench) resetFirestore(ctx context.Context) error {
	if !b.cfg.ResetFirestore {
		return nil
	}
	if err := resetEmulatorProject(ctx, b.hc, b.cfg.Emulators.FirestoreHost, b.cfg.Emulators.Project); err != nil {
		return err
	}
	if err := b.storeFixtures(ctx); err != nil {
		return fmt.Errorf("fixtures after the reset: %w", err)
	}
	fmt.Fprintf(b.log, "  reset the Firestore emulator's project %s\n", b.cfg.Emulators.Project)
	return nil
}

// resetEmulatorProject deletes every document of project's default database
// in the Firestore emulator at host (its documented reset endpoint); other
// projects' data stays.
func resetEmulatorProject(ctx context.Context, hc *http.Client, host, project string) error {
	u := "http://" + host + "/emulator/v1/projects/" + url.PathEscape(project) + "/databases/(default)/documents"
	req, err := http.NewRequestWithContext(ctx, http.MethodDelete, u, nil)
	if err != nil {
		return fmt.Errorf("reset Firestore emulator: %w", err)
	}
	resp, err := hc.Do(req)
	if err != nil {
		return fmt.Errorf("reset Firestore emulator: %w", err)
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return fmt.Errorf("reset Firestore emulator: HTTP %d: %s", resp.StatusCode, body)
	}
	return nil
}

// storeFixtures gives each publishing user a connected Threads account.
func (b *bench) storeFixtures(ctx context.Context) error {
	return connectAccounts(ctx, b.store, b.fake, &b.ids, b.publishUsers)
}
