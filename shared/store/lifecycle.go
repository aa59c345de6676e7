package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"cloud.google.com/go/firestore"
	"google.golang.org/api/iterator"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Account lifecycle (see the README):
//
//	(connect) ──► active ──(Threads refuses the token)──► needs_reauth ──(connect)──► active
//	                 │                                         │
//	                 └──────(Meta deauthorize callback)────────┴──► revoked ──(connect)──► active
//
// Disconnecting (the user) or a data-deletion request (Meta) removes the
// account document altogether; a data-deletion request also removes what a
// disconnect leaves (the account's jobs and its tombstone).
const StatusRevoked = "revoked"

// JobCancelled ends a job cancelled by its owner, or whose account was
// disconnected or revoked. No attempt publishes a cancelled job; the one
// way out of it is the post of an attempt that was publishing the job at
// that moment, recorded when its call answers (KeepPublished).
const JobCancelled JobStatus = "cancelled"

// pendingJobStatuses are the states a job can be cancelled from.
var pendingJobStatuses = []JobStatus{JobScheduled, JobAccepted, JobContainerCreated, JobPublishing}

// AccountRef is an account with the Firebase user it belongs to.
type AccountRef struct {
	UID     string
	Account *Account
}

// uidOfAccount reads {uid} from users/{uid}/integrations/threads/accounts/{id}.
func uidOfAccount(ref *firestore.DocumentRef) (string, bool) {
	return uidUnder(ref, "accounts")
}

// uidUnder reads {uid} from users/{uid}/integrations/threads/{collection}/{id},
// walking up the reference's parents (a collection's parent is nil at the root).
func uidUnder(ref *firestore.DocumentRef, collection string) (string, bool) {
	accounts := ref.Parent
	threads := accounts.Parent
	if accounts.ID != collection || threads == nil || threads.ID != "threads" {
		return "", false
	}
	integrations := threads.Parent
	user := integrations.Parent
	if integrations.ID != "integrations" || user == nil || user.Parent.ID != "users" || user.Parent.Parent != nil {
		return "", false
	}
	return user.ID, true
}

// AccountsByThreadsUser finds every account of a Threads user, under any
// Firebase user (a collection-group query on extra.threadsUserId; its index
// is declared in firestore.indexes.json).
func (s *Store) AccountsByThreadsUser(ctx context.Context, threadsUserID string) ([]AccountRef, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	it := s.fs.CollectionGroup("accounts").Where("extra.threadsUserId", "==", threadsUserID).Documents(ctx)
	defer it.Stop()
	var out []AccountRef
	for {
		snap, err := it.Next()
		if errors.Is(err, iterator.Done) {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("accounts by threads user: %w", err)
		}
		uid, ok := uidOfAccount(snap.Ref)
		if !ok {
			continue // an "accounts" collection elsewhere
		}
		a, err := decodeAccount(snap)
		if err != nil {
			return nil, err
		}
		out = append(out, AccountRef{UID: uid, Account: a})
	}
}

// cancelMessages say, for people, why a job was cancelled, by its reason;
// cancelError adds what had been posted by then.
var cancelMessages = map[string]string{
	"cancelled_by_owner":   "Cancelled by its owner before it was due.",
	"account_disconnected": "Cancelled: the Threads account was disconnected.",
	"account_revoked":      "Cancelled: the app's access to the Threads account was removed.",
	"not_scheduled":        "Cancelled: the post could not be scheduled (its task was not created).",
}

// cancelError is the error recorded on a job cancelled for reason: why,
// and what had been posted by then as far as the job knows, from its parts
// (a reply chain's, published in order) and whether it was publishing: a
// job cancelled in "publishing" had its publish call sent, or about to be,
// with no outcome recorded. An attempt whose call did post records that
// after all (KeepPublished).
func cancelError(reason string, parts []JobPart, publishing bool) *JobError {
	msg, ok := cancelMessages[reason]
	if !ok {
		msg = "Cancelled (" + reason + ")."
	}
	return &JobError{Reason: reason, Message: msg + " " + postedNote(parts, publishing)}
}

// postedNote says what a cancelled job had posted (see cancelError).
func postedNote(parts []JobPart, publishing bool) string {
	n := len(parts)
	if n == 0 {
		if publishing {
			return "It was being published and may have gone out."
		}
		return "Nothing was posted."
	}
	out := 0
	for _, p := range parts {
		if p.Status == string(JobPublished) {
			out++
		}
	}
	var said []string
	switch {
	case out == 1:
		said = append(said, fmt.Sprintf("part 1 of %d had been published", n))
	case out > 1:
		said = append(said, fmt.Sprintf("parts 1 to %d of %d had been published", out, n))
	}
	sent := 0
	if publishing && out < n {
		sent = 1
		said = append(said, fmt.Sprintf("part %d of %d was being published and may have gone out", out+1, n))
	}
	switch {
	case out == 0 && sent == 0:
		return "Nothing was posted."
	case out+sent < n:
		said = append(said, "the rest were not posted")
	}
	note := strings.Join(said, "; ") + "."
	return strings.ToUpper(note[:1]) + note[1:]
}

// CancelPendingJobs marks every job of the account that has not ended as
// cancelled, each in a transaction, so a task delivered later finds it
// final. It returns how many it cancelled.
func (s *Store) CancelPendingJobs(ctx context.Context, uid, accountID, reason string, now time.Time) (int, error) {
	statuses := make([]any, len(pendingJobStatuses))
	for i, st := range pendingJobStatuses {
		statuses[i] = string(st)
	}
	docs, err := s.getAll(ctx, s.fs.Collection(AccountPath(uid, accountID)+"/jobs").Where("status", "in", statuses))
	if err != nil {
		return 0, fmt.Errorf("list pending jobs: %w", err)
	}
	n := 0
	for _, d := range docs {
		cancelled, err := updateIf(ctx, s, d.Ref, decodeJob, func(j *Job) []firestore.Update {
			if j.Status.Terminal() {
				return nil
			}
			return cancelUpdates(j, reason, now)
		})
		if err != nil {
			return n, fmt.Errorf("cancel job %s: %w", d.Ref.ID, err)
		}
		if cancelled {
			n++
		}
	}
	return n, nil
}

func (s *Store) tombstoneDoc(uid, accountID string) *firestore.DocumentRef {
	return s.fs.Doc("users/" + uid + "/integrations/threads/disconnected/" + accountID)
}

// Disconnect deletes a user's account document (its token with it) and
// leaves a tombstone, in one transaction. It reports whether the account
// existed now or was disconnected before (so a repeated call succeeds);
// false means it was never connected.
//
// The tombstone records the account's Threads user id: the account's jobs
// (post text, request JSON) stay after a disconnect, and a later
// data-deletion request for that Threads user finds them through it
// (DisconnectedByThreadsUser), the account document being gone.
func (s *Store) Disconnect(ctx context.Context, uid, accountID string, now time.Time) (bool, error) {
	acct, tomb := s.accountDoc(uid, accountID), s.tombstoneDoc(uid, accountID)
	known := false
	err := s.runTx(ctx, func(ctx context.Context, tx *firestore.Transaction) error {
		known = false
		snap, err := tx.Get(acct)
		if status.Code(err) == codes.NotFound {
			ts, err := tx.Get(tomb)
			if status.Code(err) == codes.NotFound {
				return nil
			}
			if err != nil {
				return err
			}
			known = ts.Exists()
			return nil
		}
		if err != nil {
			return err
		}
		known = snap.Exists()
		fields := map[string]any{"accountId": accountID, "disconnectedAt": now}
		// Without it (thAuthCallback always writes it), DisconnectedByThreadsUser
		// falls back on the account id, as for tombstones that predate the field.
		if v, err := snap.DataAt("extra.threadsUserId"); err == nil {
			if tu, _ := v.(string); tu != "" {
				fields["threadsUserId"] = tu
			}
		}
		if err := tx.Set(tomb, fields); err != nil {
			return err
		}
		return tx.Delete(acct)
	})
	if err != nil {
		return false, fmt.Errorf("disconnect account: %w", err)
	}
	return known, nil
}

// RevokeIfConnectedBefore marks an account revoked and deletes its token
// (the owner still sees the account, with its status, and can connect it
// again), but only if its current token was not obtained after issuedAt
// (the deauthorize request's issue time; see ConnectedAfter); it reports
// whether it did. A token obtained after it belongs to a connection the
// user made again after removing the app (the request arrives late, or is
// Meta's retry): that connection is left as it is. The check and the write
// are one transaction, so a reconnection landing in between is never
// revoked. An account that is gone is not revoked either (false, nil).
//
// tokenIssuedAt also moves when the token is refreshed. Threads refuses to
// refresh the token of a removed app, so only a refresh racing the removal
// itself can make the removed connection look newer than the request; such
// an account keeps its dead token until Threads refuses it (needs_reauth).
func (s *Store) RevokeIfConnectedBefore(ctx context.Context, uid, accountID string, issuedAt, now time.Time) (bool, error) {
	before := func(a *Account) bool { return !ConnectedAfter(a, issuedAt) }
	return s.updateAccountIf(ctx, "revoke account", uid, accountID, before, []firestore.Update{
		{Path: "status", Value: StatusRevoked},
		{Path: "accessToken", Value: firestore.Delete},
		{Path: "accessTokenKeyId", Value: firestore.Delete},
		{Path: "revokedAt", Value: now},
		{Path: "updatedAt", Value: now},
	})
}

// ConnectedAfter reports whether the account's current token was obtained
// after t, a signed_request's issued_at. That is a whole second (the one the
// request was issued in), so a token obtained within that same second cannot
// be ordered against it: it counts as before, and is revoked. Revoking is
// the safe side of the doubt: at worst a connection made again within the
// second of the removal must be connected once more.
func ConnectedAfter(a *Account, t time.Time) bool {
	return a.TokenIssuedAt.Truncate(time.Second).After(t)
}

// deleteBatch is how many documents one batch deletes (Firestore allows 500 writes).
const deleteBatch = 400

// DisconnectedRef is an account its owner disconnected: its document is
// gone, its tombstone and its jobs remain.
type DisconnectedRef struct {
	UID       string
	AccountID string
}

// DisconnectedByThreadsUser finds the tombstones of a Threads user's
// disconnected accounts, under any Firebase user: those recording its
// threadsUserId, and those written before tombstones recorded it (no
// threadsUserId) whose accountId is the Threads user id, as thAuthCallback
// has always made it. Both are collection-group queries on "disconnected";
// their single-field indexes are declared in firestore.indexes.json.
func (s *Store) DisconnectedByThreadsUser(ctx context.Context, threadsUserID string) ([]DisconnectedRef, error) {
	group := s.fs.CollectionGroup("disconnected")
	var out []DisconnectedRef
	seen := map[string]bool{}
	for _, q := range []struct {
		field  string
		legacy bool
	}{{"threadsUserId", false}, {"accountId", true}} {
		docs, err := s.getAll(ctx, group.Where(q.field, "==", threadsUserID))
		if err != nil {
			return nil, fmt.Errorf("disconnected accounts by threads user: %w", err)
		}
		for _, d := range docs {
			if q.legacy {
				if v, err := d.DataAt("threadsUserId"); err == nil && v != "" {
					continue // it records its Threads user: the first query's if it is this one
				}
			}
			uid, ok := uidUnder(d.Ref, "disconnected")
			if !ok || seen[d.Ref.Path] {
				continue
			}
			seen[d.Ref.Path] = true
			out = append(out, DisconnectedRef{UID: uid, AccountID: d.Ref.ID})
		}
	}
	return out, nil
}

// DeleteAccountData deletes an account's jobs (in batches), its tombstone
// and the account document; it serves a connected account and a
// disconnected one (DisconnectedRef) alike. A connected account is first
// disconnected (Disconnect: its document deleted, a tombstone written), so
// that no job can be created for it while its jobs are being deleted
// (CreateJob). Each batch is durable and the tombstone goes last, so an
// interrupted deletion is found again (DisconnectedByThreadsUser) and
// continues where it stopped when called again. An account connected again
// while the jobs are being deleted keeps its document (the last batch
// deletes the tombstone only), but jobs it made before the last listing
// go with the rest.
func (s *Store) DeleteAccountData(ctx context.Context, uid, accountID string, now time.Time) error {
	if _, err := s.Disconnect(ctx, uid, accountID, now); err != nil {
		return fmt.Errorf("delete account: %w", err)
	}
	jobs := s.fs.Collection(AccountPath(uid, accountID) + "/jobs")
	for {
		docs, err := s.getAll(ctx, jobs.Limit(deleteBatch))
		if err != nil {
			return fmt.Errorf("list jobs to delete: %w", err)
		}
		if len(docs) == 0 {
			break
		}
		refs := make([]*firestore.DocumentRef, len(docs))
		for i, d := range docs {
			refs[i] = d.Ref
		}
		if err := s.deleteAll(ctx, refs...); err != nil {
			return fmt.Errorf("delete jobs: %w", err)
		}
	}
	// The account document went first (Disconnect): one there now is a
	// connection made since; it is left alone.
	if err := s.deleteAll(ctx, s.tombstoneDoc(uid, accountID)); err != nil {
		return fmt.Errorf("delete account: %w", err)
	}
	return nil
}

// Data-deletion request statuses.
const (
	DeletionInProgress = "in_progress"
	DeletionDone       = "done"
)

// DeletionRequest is Meta's data-deletion request, stored at
// dataDeletionRequests/{code} (not readable by clients).
type DeletionRequest struct {
	Code          string    `firestore:"code"`
	Status        string    `firestore:"status"`
	ThreadsUserID string    `firestore:"threadsUserId"`
	RequestedAt   time.Time `firestore:"requestedAt"`
	CompletedAt   time.Time `firestore:"completedAt,omitempty"`
}

// StartDeletion records a deletion request, or returns the one already
// recorded under key (a retried callback resumes the same request).
func (s *Store) StartDeletion(ctx context.Context, key, code, threadsUserID string, now time.Time) (*DeletionRequest, error) {
	keyDoc := s.fs.Collection("dataDeletionKeys").Doc(key)
	var req DeletionRequest
	err := s.runTx(ctx, func(ctx context.Context, tx *firestore.Transaction) error {
		snap, err := tx.Get(keyDoc)
		if err == nil {
			existing, _ := snap.DataAt("code")
			c, _ := existing.(string)
			rs, err := tx.Get(s.fs.Collection("dataDeletionRequests").Doc(c))
			if err != nil {
				return err
			}
			return rs.DataTo(&req)
		}
		if status.Code(err) != codes.NotFound {
			return err
		}
		req = DeletionRequest{Code: code, Status: DeletionInProgress, ThreadsUserID: threadsUserID, RequestedAt: now}
		if err := tx.Create(keyDoc, map[string]any{"code": code}); err != nil {
			return err
		}
		return tx.Create(s.fs.Collection("dataDeletionRequests").Doc(code), req)
	})
	if err != nil {
		return nil, fmt.Errorf("start deletion: %w", err)
	}
	return &req, nil
}

// FindDeletion returns the deletion request recorded under key, without
// recording one; ErrNotFound when there is none. thDataDeletion resumes
// through it a request whose signed_request has aged past the limit that
// new requests must meet.
func (s *Store) FindDeletion(ctx context.Context, key string) (*DeletionRequest, error) {
	snap, err := s.getByID(ctx, "dataDeletionKeys", key)
	if err != nil {
		return nil, fmt.Errorf("find deletion: %w", err)
	}
	code, _ := snap.DataAt("code")
	c, _ := code.(string)
	// Key and request are created in one transaction: a key names a request.
	return s.GetDeletion(ctx, c)
}

// CompleteDeletion marks a deletion request done.
func (s *Store) CompleteDeletion(ctx context.Context, code string, now time.Time) error {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	_, err := s.fs.Collection("dataDeletionRequests").Doc(code).Update(ctx, []firestore.Update{
		{Path: "status", Value: DeletionDone},
		{Path: "completedAt", Value: now},
	})
	if err != nil {
		return fmt.Errorf("complete deletion: %w", err)
	}
	return nil
}

// GetDeletion reads a deletion request; ErrNotFound when the code is unknown.
func (s *Store) GetDeletion(ctx context.Context, code string) (*DeletionRequest, error) {
	snap, err := s.getByID(ctx, "dataDeletionRequests", code)
	if err != nil {
		return nil, fmt.Errorf("get deletion: %w", err)
	}
	var r DeletionRequest
	if err := snap.DataTo(&r); err != nil {
		return nil, fmt.Errorf("decode deletion: %w", err)
	}
	return &r, nil
}

// getByID reads the document id of a top-level collection, where id comes
// from outside (a deletion code, a user's key): ErrNotFound when there is
// none, or when id cannot name one.
func (s *Store) getByID(ctx context.Context, collection, id string) (*firestore.DocumentSnapshot, error) {
	if id == "" || strings.Contains(id, "/") || len(id) > 128 {
		return nil, ErrNotFound
	}
	return s.get(ctx, s.fs.Collection(collection).Doc(id))
}

// Cursor marks where a page of DueAccounts ended.
type Cursor = firestore.DocumentSnapshot

// DueAccounts returns a page of active accounts whose token expires before
// `before`, ordered by expiry, after the cursor (nil for the first page).
// Its composite index is declared in firestore.indexes.json.
func (s *Store) DueAccounts(ctx context.Context, before time.Time, limit int, cursor *Cursor) ([]AccountRef, *Cursor, error) {
	q := s.fs.CollectionGroup("accounts").Where("status", "==", StatusActive).Where("expiresAt", "<=", before).
		OrderBy("expiresAt", firestore.Asc).Limit(limit)
	if cursor != nil {
		q = q.StartAfter(cursor)
	}
	docs, err := s.getAll(ctx, q)
	if err != nil {
		return nil, nil, fmt.Errorf("due accounts: %w", err)
	}
	var out []AccountRef
	for _, d := range docs {
		uid, ok := uidOfAccount(d.Ref)
		if !ok {
			continue
		}
		a, err := decodeAccount(d)
		if err != nil {
			return nil, nil, err
		}
		out = append(out, AccountRef{UID: uid, Account: a})
	}
	var next *Cursor
	if len(docs) == limit {
		next = docs[len(docs)-1]
	}
	return out, next, nil
}
