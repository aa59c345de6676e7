package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"cloud.google.com/go/firestore"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// JobStatus is a publish job's state. The machine (see the README):
//
//	scheduled ──► accepted ──► container_created ──► publishing ──► published
//	    │            │                │                  │
//	    │            ├────────────────┴──────────────────┴──────► failed
//	    └────────────┴──(cancelled by the owner, or the account disconnected)──► cancelled
//
// A job cancelled while an attempt was publishing it is recorded published
// if that attempt's call posted: the one move out of "cancelled"
// (KeepPublished).
//
// A job only moves forward, but for one step back to "accepted" when its
// container must be made again: it expired unpublished, or Threads could
// not fetch its link's preview (LinkDropped). "publishing" is written before
// the publish call is sent, so an attempt that finds it knows the outcome of
// the last call is unknown and asks Threads for the container's status
// before anything else. A reply chain runs the accepted → publishing steps once
// per part (Part says which); Parts records each part's own progress.
type JobStatus string

// Job states.
const (
	JobScheduled        JobStatus = "scheduled"
	JobAccepted         JobStatus = "accepted"
	JobContainerCreated JobStatus = "container_created"
	JobPublishing       JobStatus = "publishing"
	JobPublished        JobStatus = "published"
	JobFailed           JobStatus = "failed"
)

// Part states (JobPart.Status) besides the job states they mirror.
const (
	PartPending = "pending"
)

// JobPart is one part of a reply chain and its progress.
type JobPart struct {
	Text        string `firestore:"text"`
	Status      string `firestore:"status"`
	ContainerID string `firestore:"containerId"`
	MediaID     string `firestore:"mediaId"`
}

// Terminal reports whether the job has reached an end state.
func (s JobStatus) Terminal() bool { return s == JobPublished || s == JobFailed || s == JobCancelled }

// Errors of job operations.
var (
	// ErrJobBusy: another attempt holds the job's lease.
	ErrJobBusy = errors.New("job is being processed by another attempt")
	// ErrLeaseLost: the attempt's lease expired and another attempt took the job.
	ErrLeaseLost = errors.New("job lease lost")
)

// JobError records why a job failed (or last failed, while it retries).
type JobError struct {
	Reason    string `firestore:"reason"`
	Message   string `firestore:"message"`
	Code      int    `firestore:"code,omitempty"`
	Subcode   int    `firestore:"subcode,omitempty"`
	FBTraceID string `firestore:"fbtraceId,omitempty"`
}

// Job is a publish request and its progress, stored at JobPath.
type Job struct {
	JobID     string    `firestore:"jobId"`
	UID       string    `firestore:"uid"`
	AccountID string    `firestore:"accountId"`
	Status    JobStatus `firestore:"status"`
	Kind      string    `firestore:"kind"`
	// Text is the post's text (a chain's first part), for apps listing jobs.
	Text        string `firestore:"text,omitempty"`
	Request     string `firestore:"request"` // the request's JSON
	RequestHash string `firestore:"requestHash"`
	// Children are the carousel item containers, in order.
	Children    []string  `firestore:"children"`
	ContainerID string    `firestore:"containerId"`
	MediaID     string    `firestore:"mediaId"`
	Attempts    int       `firestore:"attempts"`
	Error       *JobError `firestore:"error"`
	// LastError is the most recent transient failure, kept while the job retries.
	LastError *JobError `firestore:"lastError"`
	// PublishAt is when a scheduled job is due (zero: at once).
	PublishAt time.Time `firestore:"publishAt,omitempty"`
	// Parts are a reply chain's parts (empty for a single post); Part is
	// the index of the part in progress, whose step Status, ContainerID
	// and Children describe. MediaID is then the first part's id.
	Parts      []JobPart `firestore:"parts,omitempty"`
	Part       int       `firestore:"part"`
	LeaseOwner string    `firestore:"leaseOwner"`
	LeaseUntil time.Time `firestore:"leaseUntil"`
	// DueBy is when something must have taken the job up again: its
	// lease's end while an attempt holds it, the time its next task is due
	// while it waits, publishAt while scheduled; none once it has ended,
	// but for a job cancelled while an attempt was publishing it: the
	// lease the cancel kept for that attempt's end (see cancelUpdates).
	// thPublish's sweep hands jobs overdue by it to Cloud Tasks (OverdueJobs).
	DueBy time.Time `firestore:"dueBy,omitempty"`
	// ContainersAt is when the post's media containers were created (the
	// carousel's items, then the carousel; an image's or a video's: the
	// first part's, kept while a chain's later parts publish): how long
	// Threads has been processing them.
	ContainersAt time.Time `firestore:"containersAt,omitempty"`
	// LinkDropped: Threads could not fetch the link_attachment's preview at
	// publish, so the post goes on without link_attachment (a new container).
	LinkDropped bool      `firestore:"linkDropped,omitempty"`
	CreatedAt   time.Time `firestore:"createdAt"`
	UpdatedAt   time.Time `firestore:"updatedAt"`
	PublishedAt time.Time `firestore:"publishedAt,omitempty"`

	// Version is the document's update time as last read or written here
	// (not stored): UpdateJob writes only if the document is still at it.
	Version time.Time `firestore:"-"`

	// ref is the document the job was created or read through (unexported:
	// not stored), reused by UpdateJob: building a job's eight-segment
	// reference with Client.Doc allocates ~4 KB, and a publish writes its job
	// two or three times.
	ref *firestore.DocumentRef
}

// JobPath is the document path of a job.
func JobPath(uid, accountID, jobID string) string {
	return AccountPath(uid, accountID) + "/jobs/" + jobID
}

func (s *Store) jobDoc(uid, accountID, jobID string) *firestore.DocumentRef {
	return s.fs.Doc(JobPath(uid, accountID, jobID))
}

// jobRef is j's document: the reference it was created or read through when
// that still names j (a copy whose ids were changed does not reuse it),
// else one built from j's ids.
func (s *Store) jobRef(j *Job) *firestore.DocumentRef {
	if j.ref != nil && strings.HasSuffix(j.ref.Path, "/documents/"+JobPath(j.UID, j.AccountID, j.JobID)) {
		return j.ref
	}
	return s.jobDoc(j.UID, j.AccountID, j.JobID)
}

// CreateJob stores a new job. When a job with that id exists already (a
// repeated idempotency key), it is returned with created false. A job given
// with LeaseOwner set is created already claimed by that owner (Attempts
// should then be 1), so its first attempt needs no ClaimJob. Unless given,
// DueBy is the lease's end for a claimed job, PublishAt for a scheduled one,
// else the job's creation.
//
// The job is created only while its account's document exists: the same
// commit records the job's creation on the account (lastJobAt), which fails
// once the account is disconnected or its data deleted (ErrAccountGone).
// So a request that read the account just before a disconnect stores no
// job after the disconnect's last cancel pass (which comes after the
// account's deletion, thDisconnect), and a data deletion leaves no job
// behind.
func (s *Store) CreateJob(ctx context.Context, j *Job) (stored *Job, created bool, err error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	ref := s.jobDoc(j.UID, j.AccountID, j.JobID)
	account := ref.Parent.Parent
	if j.DueBy.IsZero() {
		switch {
		case j.LeaseOwner != "":
			j.DueBy = j.LeaseUntil
		case !j.PublishAt.IsZero():
			j.DueBy = j.PublishAt
		default:
			j.DueBy = j.CreatedAt
		}
	}
	b := s.fs.Batch()
	b.Create(ref, j)
	b.Update(account, []firestore.Update{{Path: "lastJobAt", Value: j.CreatedAt}}) // the account must exist
	wrs, err := b.Commit(ctx)
	switch status.Code(err) {
	case codes.OK:
	case codes.AlreadyExists:
		existing, err := s.GetJob(ctx, j.UID, j.AccountID, j.JobID)
		return existing, false, err
	case codes.NotFound:
		return nil, false, ErrAccountGone
	default:
		return nil, false, fmt.Errorf("create job: %w", err)
	}
	j.Version, j.ref = wrs[0].UpdateTime, ref
	return j, true, nil
}

// GetJob reads a job; ErrNotFound when there is none.
func (s *Store) GetJob(ctx context.Context, uid, accountID, jobID string) (*Job, error) {
	snap, err := s.get(ctx, s.jobDoc(uid, accountID, jobID))
	if errors.Is(err, ErrNotFound) {
		return nil, err
	}
	if err != nil {
		return nil, fmt.Errorf("get job: %w", err)
	}
	return decodeJob(snap)
}

// FindJobs reads the job jobID under each of the user's accounts named, in
// one round trip, and returns those that exist, in that order.
func (s *Store) FindJobs(ctx context.Context, uid string, accountIDs []string, jobID string) ([]*Job, error) {
	if len(accountIDs) == 0 {
		return nil, nil
	}
	refs := make([]*firestore.DocumentRef, len(accountIDs))
	for i, id := range accountIDs {
		refs[i] = s.jobDoc(uid, id, jobID)
	}
	ctx, cancel := s.bound(ctx)
	defer cancel()
	snaps, err := s.fs.GetAll(ctx, refs)
	if err != nil {
		return nil, fmt.Errorf("find jobs: %w", err)
	}
	var jobs []*Job
	for _, snap := range snaps {
		if !snap.Exists() {
			continue
		}
		j, err := decodeJob(snap)
		if err != nil {
			return nil, err
		}
		jobs = append(jobs, j)
	}
	return jobs, nil
}

func decodeJob(snap *firestore.DocumentSnapshot) (*Job, error) {
	var j Job
	if err := snap.DataTo(&j); err != nil {
		return nil, fmt.Errorf("decode job: %w", err)
	}
	j.Version, j.ref = snap.UpdateTime, snap.Ref
	return &j, nil
}

// claimTries bounds ClaimJob's read-and-write rounds when other writers
// change the job in between.
const claimTries = 3

// ClaimJob takes the job's lease for owner until now+lease: it reads the
// job and writes the lease on the condition that the document has not
// changed since (an update-time precondition: one read and one write, no
// transaction). Of concurrent attempts one gets the job and the others get
// ErrJobBusy until the lease runs out (so a crashed attempt does not block
// the job for ever). A terminal job is returned as is, unclaimed.
func (s *Store) ClaimJob(ctx context.Context, uid, accountID, jobID, owner string, now time.Time, lease time.Duration) (*Job, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	for range claimTries {
		j, err := s.GetJob(ctx, uid, accountID, jobID)
		if err != nil {
			return nil, err
		}
		if j.Status.Terminal() {
			return j, nil
		}
		if j.LeaseOwner != "" && j.LeaseOwner != owner && now.Before(j.LeaseUntil) {
			return nil, ErrJobBusy
		}
		j.LeaseOwner, j.LeaseUntil, j.UpdatedAt = owner, now.Add(lease), now
		j.DueBy = j.LeaseUntil
		j.Attempts++
		wr, err := j.ref.Update(ctx, []firestore.Update{
			{Path: "leaseOwner", Value: owner},
			{Path: "leaseUntil", Value: j.LeaseUntil},
			{Path: "dueBy", Value: j.DueBy},
			{Path: "attempts", Value: j.Attempts},
			{Path: "updatedAt", Value: now},
		}, firestore.LastUpdateTime(j.Version))
		switch status.Code(err) {
		case codes.OK:
			j.Version = wr.UpdateTime
			return j, nil
		case codes.FailedPrecondition, codes.Aborted:
			continue // changed meanwhile: look again
		case codes.NotFound:
			return nil, ErrNotFound
		}
		return nil, fmt.Errorf("claim job: %w", err)
	}
	return nil, ErrJobBusy
}

// UpdateJob writes j's progress (status, ids, errors) if the document is
// still as owner last read or wrote it (j.Version): any other write in
// between (another attempt's claim after the lease ran out, a cancel)
// makes it change nothing and return ErrLeaseLost. One write, no
// transaction. With release, the lease is given up in the same write, and
// j.DueBy is written with it (the caller sets it to when the job's next task
// is due), or removed once the job has ended.
func (s *Store) UpdateJob(ctx context.Context, j *Job, owner string, now time.Time, release bool) error {
	if j.LeaseOwner != owner || j.Version.IsZero() {
		return ErrLeaseLost
	}
	ctx, cancel := s.bound(ctx)
	defer cancel()
	j.UpdatedAt = now
	updates := []firestore.Update{
		{Path: "status", Value: string(j.Status)},
		{Path: "children", Value: j.Children},
		{Path: "containerId", Value: j.ContainerID},
		{Path: "mediaId", Value: j.MediaID},
		{Path: "error", Value: j.Error},
		{Path: "lastError", Value: j.LastError},
		{Path: "part", Value: j.Part},
		{Path: "updatedAt", Value: now},
	}
	if len(j.Parts) > 0 {
		updates = append(updates, firestore.Update{Path: "parts", Value: j.Parts})
	}
	if !j.PublishedAt.IsZero() {
		updates = append(updates, firestore.Update{Path: "publishedAt", Value: j.PublishedAt})
	}
	if j.LinkDropped {
		updates = append(updates, firestore.Update{Path: "linkDropped", Value: true})
	}
	if !j.ContainersAt.IsZero() {
		updates = append(updates, firestore.Update{Path: "containersAt", Value: j.ContainersAt})
	}
	if release {
		if j.Status.Terminal() {
			j.DueBy = time.Time{}
		}
		updates = append(updates, firestore.Update{Path: "leaseOwner", Value: ""}, firestore.Update{Path: "leaseUntil", Value: time.Time{}},
			firestore.Update{Path: "dueBy", Value: dueByValue(j.DueBy)})
	}
	wr, err := s.jobRef(j).Update(ctx, updates, firestore.LastUpdateTime(j.Version))
	switch status.Code(err) {
	case codes.OK:
	case codes.FailedPrecondition, codes.NotFound:
		return ErrLeaseLost
	default:
		return fmt.Errorf("update job: %w", err)
	}
	j.Version = wr.UpdateTime
	if release {
		j.LeaseOwner, j.LeaseUntil = "", time.Time{}
	}
	return nil
}

// dueByValue is what a write stores as dueBy: the time, or no field at all
// (a job without one is never overdue).
func dueByValue(t time.Time) any {
	if t.IsZero() {
		return firestore.Delete
	}
	return t
}

// OverdueJobs returns the jobs of all users whose DueBy is before the given
// time, most overdue first, at most limit of them (a collection-group query
// on the jobs' dueBy field: an index of that scope, firestore.indexes.json).
func (s *Store) OverdueJobs(ctx context.Context, before time.Time, limit int) ([]*Job, error) {
	docs, err := s.getAll(ctx, s.fs.CollectionGroup("jobs").Where("dueBy", "<", before).OrderBy("dueBy", firestore.Asc).Limit(limit))
	if err != nil {
		return nil, fmt.Errorf("list overdue jobs: %w", err)
	}
	out := make([]*Job, 0, len(docs))
	for _, d := range docs {
		j, err := decodeJob(d)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", d.Ref.Path, err)
		}
		out = append(out, j)
	}
	return out, nil
}

// ClearDueBy removes the DueBy of a job that has ended yet still carries one,
// and with it a lease the cancel kept (see cancelUpdates) that has run out
// by now: the attempt that held it died without recording what its call
// did. Only if the job is still as read (j.Version); false, writing
// nothing, while a kept lease is still live, or when the job changed
// meanwhile (that attempt's own write among others). j is updated only
// when it returns true.
func (s *Store) ClearDueBy(ctx context.Context, j *Job, now time.Time) (bool, error) {
	kept := j.LeaseOwner != ""
	if kept && now.Before(j.LeaseUntil) {
		return false, nil // its attempt may yet record its post
	}
	ctx, cancel := s.bound(ctx)
	defer cancel()
	w := *j // the job as written; j changes only once it is
	updates := []firestore.Update{{Path: "dueBy", Value: firestore.Delete}}
	if kept {
		updates = giveUpKept(&w, now) // dueBy among them
	}
	wr, err := s.jobRef(j).Update(ctx, updates, firestore.LastUpdateTime(j.Version))
	switch status.Code(err) {
	case codes.OK:
		w.DueBy, w.Version = time.Time{}, wr.UpdateTime
		*j = w
		return true, nil
	case codes.FailedPrecondition, codes.NotFound:
		return false, nil
	}
	return false, fmt.Errorf("clear dueBy: %w", err)
}

// TouchJob records that a request relies on the job as it read it (a
// repeat that made sure of its task): it moves the job's update time, so
// that a WithdrawJob of an earlier version fails. Only if the job is still
// as read (j.Version): a job changed since (an attempt claimed it) cannot
// be withdrawn either, and is left alone, so as not to break the chain of
// the attempt's conditional writes. ErrNotFound when it is gone.
func (s *Store) TouchJob(ctx context.Context, j *Job, now time.Time) error {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	wr, err := s.jobRef(j).Update(ctx, []firestore.Update{{Path: "updatedAt", Value: now}}, firestore.LastUpdateTime(j.Version))
	switch status.Code(err) {
	case codes.OK:
		j.Version, j.UpdatedAt = wr.UpdateTime, now
		return nil
	case codes.FailedPrecondition:
		// Changed since it was read, or gone: which one, a read says.
		if _, gerr := s.GetJob(ctx, j.UID, j.AccountID, j.JobID); gerr != nil {
			return gerr
		}
		return nil
	case codes.NotFound:
		return ErrNotFound
	}
	return fmt.Errorf("touch job: %w", err)
}

// cancelUpdates cancels j for reason and returns the writes that record
// it: its status and error (cancelError, from j as it was), due never, and
// a chain's parts not published marked cancelled. The lease is given up,
// but for a job being published by an attempt that holds it (a live lease
// in "publishing"): that attempt's publish call may post, and the lease
// says whose post KeepPublished may record, and until when. Such a job
// stays due by the lease's end, so that if the attempt dies before it
// gives the lease up, the sweep does (ClearDueBy).
func cancelUpdates(j *Job, reason string, now time.Time) []firestore.Update {
	publishing := j.Status == JobPublishing
	j.Error = cancelError(reason, j.Parts, publishing)
	j.Status, j.DueBy, j.UpdatedAt = JobCancelled, time.Time{}, now
	kept := publishing && j.LeaseOwner != "" && now.Before(j.LeaseUntil)
	if kept {
		j.DueBy = j.LeaseUntil
	} else {
		j.LeaseOwner = ""
	}
	updates := []firestore.Update{
		{Path: "status", Value: string(JobCancelled)},
		{Path: "error", Value: j.Error},
		{Path: "dueBy", Value: dueByValue(j.DueBy)},
		{Path: "updatedAt", Value: now},
	}
	if !kept {
		updates = append(updates, firestore.Update{Path: "leaseOwner", Value: ""})
	}
	if len(j.Parts) > 0 {
		for i := range j.Parts {
			if j.Parts[i].Status != string(JobPublished) {
				j.Parts[i].Status = string(JobCancelled)
			}
		}
		updates = append(updates, firestore.Update{Path: "parts", Value: j.Parts})
	}
	return updates
}

// KeepPublished records what an attempt knows went out on a job cancelled
// while the attempt was publishing it (a disconnect or a revocation between
// its "publishing" write and the publish call's answer; the attempt's own
// write then finds its lease lost): part's post, with mediaID ("" when
// only the container's status said so), and, when part was the job's last
// or only one, the job as published. A chain cancelled before its last
// part stays cancelled, that part marked published. Only the attempt whose
// lease the cancel kept (owner, on the part in progress) may: it returns
// nil, changing nothing, when the job is not cancelled (another attempt has
// it, and finds the post by its container's status), was cancelled out of
// another attempt's hands, or is gone. Otherwise it returns the job as
// written, its lease given up (its Version the one read before the write).
func (s *Store) KeepPublished(ctx context.Context, j *Job, owner string, part int, mediaID string, now time.Time) (*Job, error) {
	var kept *Job
	done, err := updateIf(ctx, s, s.jobRef(j), decodeJob, func(cur *Job) []firestore.Update {
		if !keptFor(cur, owner) || cur.Part != part || (len(cur.Parts) > 0 && part >= len(cur.Parts)) {
			return nil
		}
		kept = cur
		updates := giveUpKept(cur, now)
		last := true
		if len(cur.Parts) > 0 {
			cur.Parts[part].Status, cur.Parts[part].MediaID = string(JobPublished), mediaID
			updates = append(updates, firestore.Update{Path: "parts", Value: cur.Parts})
			last = part == len(cur.Parts)-1
		}
		if part == 0 {
			cur.MediaID = mediaID // a chain's id is its first part's
			updates = append(updates, firestore.Update{Path: "mediaId", Value: mediaID})
		}
		if !last {
			reason := ""
			if cur.Error != nil {
				reason = cur.Error.Reason
			}
			cur.Error = cancelError(reason, cur.Parts, false)
			return append(updates, firestore.Update{Path: "error", Value: cur.Error})
		}
		cur.Status, cur.Error, cur.LastError, cur.PublishedAt = JobPublished, nil, nil, now
		return append(updates,
			firestore.Update{Path: "status", Value: string(JobPublished)},
			firestore.Update{Path: "error", Value: nil},
			firestore.Update{Path: "lastError", Value: nil},
			firestore.Update{Path: "publishedAt", Value: now})
	})
	if err != nil {
		return nil, fmt.Errorf("keep published job: %w", err)
	}
	if !done {
		return nil, nil
	}
	return kept, nil
}

// ReleaseCancelled gives up the lease a cancel kept for owner (see
// cancelUpdates) when its attempt ends without a post to record: a refused
// or failed publish call, or one whose outcome it does not know. It
// reports whether it did; false when the job is not cancelled or not
// owner's, or is gone.
func (s *Store) ReleaseCancelled(ctx context.Context, j *Job, owner string, now time.Time) (bool, error) {
	done, err := updateIf(ctx, s, s.jobRef(j), decodeJob, func(cur *Job) []firestore.Update {
		if !keptFor(cur, owner) {
			return nil
		}
		return giveUpKept(cur, now)
	})
	if err != nil {
		return false, fmt.Errorf("release cancelled job: %w", err)
	}
	return done, nil
}

// keptFor reports whether j is a cancelled job whose lease the cancel kept
// for owner's attempt (see cancelUpdates).
func keptFor(j *Job, owner string) bool {
	return j.Status == JobCancelled && owner != "" && j.LeaseOwner == owner
}

// giveUpKept gives up the lease the cancel kept on j: it clears j's lease
// and the due it kept with it, and returns the writes that do so.
func giveUpKept(j *Job, now time.Time) []firestore.Update {
	j.UpdatedAt, j.LeaseOwner, j.LeaseUntil, j.DueBy = now, "", time.Time{}, time.Time{}
	return []firestore.Update{
		{Path: "updatedAt", Value: now},
		{Path: "leaseOwner", Value: ""},
		{Path: "leaseUntil", Value: time.Time{}},
		{Path: "dueBy", Value: firestore.Delete},
	}
}

// WithdrawJob deletes a job that nothing has touched since it was created
// or read (j.Version), so that its idempotency key starts afresh; false when
// the job changed or is gone meanwhile.
func (s *Store) WithdrawJob(ctx context.Context, j *Job) (bool, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	_, err := s.jobRef(j).Delete(ctx, firestore.LastUpdateTime(j.Version))
	switch status.Code(err) {
	case codes.OK:
		return true, nil
	case codes.FailedPrecondition, codes.NotFound:
		return false, nil
	}
	return false, fmt.Errorf("withdraw job: %w", err)
}

// ListAccounts returns the user's connected accounts.
func (s *Store) ListAccounts(ctx context.Context, uid string) ([]*Account, error) {
	docs, err := s.getAll(ctx, s.fs.Collection("users/"+uid+"/integrations/threads/accounts").Query)
	if err != nil {
		return nil, fmt.Errorf("list accounts: %w", err)
	}
	out := make([]*Account, 0, len(docs))
	for _, d := range docs {
		a, err := decodeAccount(d)
		if err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, nil
}

// MarkNeedsReauth marks the account needs_reauth after Threads refused its
// token, if the account is active and still holds that token (issued at
// issuedAt): a refusal of an older token says nothing of a connection made
// since, and a revoked account stays revoked. It reports whether it marked.
func (s *Store) MarkNeedsReauth(ctx context.Context, uid, accountID string, issuedAt, now time.Time) (bool, error) {
	return s.updateAccountIf(ctx, "mark needs reauth", uid, accountID, holds(issuedAt), []firestore.Update{
		{Path: "status", Value: StatusNeedsReauth},
		{Path: "updatedAt", Value: now},
	})
}

// holds reports whether an account is active and still holds the token
// issued at issuedAt (the one a refresh or a refusal concerns).
func holds(issuedAt time.Time) func(*Account) bool {
	return func(a *Account) bool { return a.Status == StatusActive && sameInstant(a.TokenIssuedAt, issuedAt) }
}

// updateAccountIf applies updates to the account, in a transaction, if ok
// accepts it as read; false (and no write) otherwise, or when the account
// is gone. what names the operation in errors.
func (s *Store) updateAccountIf(ctx context.Context, what, uid, accountID string, ok func(*Account) bool, updates []firestore.Update) (bool, error) {
	done, err := updateIf(ctx, s, s.accountDoc(uid, accountID), decodeAccount, func(a *Account) []firestore.Update {
		if !ok(a) {
			return nil
		}
		return updates
	})
	if err != nil {
		return false, fmt.Errorf("%s: %w", what, err)
	}
	return done, nil
}

// updateIf reads ref in a transaction and writes the updates change gives
// for the document as read: none (nil) leaves it alone. It reports whether
// it wrote; false, with no error, when the document is gone.
func updateIf[T any](ctx context.Context, s *Store, ref *firestore.DocumentRef,
	decode func(*firestore.DocumentSnapshot) (T, error), change func(T) []firestore.Update) (bool, error) {
	done := false
	err := s.runTx(ctx, func(ctx context.Context, tx *firestore.Transaction) error {
		done = false
		snap, err := tx.Get(ref)
		if status.Code(err) == codes.NotFound {
			return nil
		}
		if err != nil {
			return err
		}
		v, err := decode(snap)
		if err != nil {
			return err
		}
		updates := change(v)
		if updates == nil {
			return nil
		}
		done = true
		return tx.Update(ref, updates)
	})
	return done, err
}

// sameInstant compares times as Firestore stores them (to the microsecond).
func sameInstant(a, b time.Time) bool {
	return a.Truncate(time.Microsecond).Equal(b.Truncate(time.Microsecond))
}

// ClaimTokenRefresh marks the account's token as being refreshed by one
// caller until now+lease; false when another caller holds the mark, when
// the token was replaced since the caller read it (issuedAt differs), when
// the account is no longer active (revoked, needs reauth) or when it is
// gone (disconnected since). Of concurrent publishes, one refreshes; the
// others use the token they have, which is still valid (refresh happens
// days before expiry).
func (s *Store) ClaimTokenRefresh(ctx context.Context, uid, accountID string, issuedAt, now time.Time, lease time.Duration) (bool, error) {
	free := func(a *Account) bool { return !now.Before(a.RefreshLeaseUntil) && holds(issuedAt)(a) }
	return s.updateAccountIf(ctx, "claim token refresh", uid, accountID, free, []firestore.Update{
		{Path: "refreshLeaseUntil", Value: now.Add(lease)},
	})
}

// SaveRefreshedToken seals and stores a refreshed long-lived token in place
// of the one issued at issuedAt, if the account is active and still holds
// that one: a reconnection or a revocation meanwhile wins, and the refreshed
// token is dropped (false).
func (s *Store) SaveRefreshedToken(ctx context.Context, uid, accountID, token string, expiresIn int64, issuedAt, now time.Time) (bool, error) {
	if s.keyring == nil {
		return false, ErrNoKeyring
	}
	sealed, keyID, err := s.keyring.Seal([]byte(token), []byte(AccountPath(uid, accountID)))
	if err != nil {
		return false, fmt.Errorf("seal access token: %w", err)
	}
	return s.updateAccountIf(ctx, "save refreshed token", uid, accountID, holds(issuedAt), []firestore.Update{
		{Path: "accessToken", Value: sealed},
		{Path: "accessTokenKeyId", Value: keyID},
		{Path: "expiresIn", Value: expiresIn},
		{Path: "expiresAt", Value: now.Add(time.Duration(expiresIn) * time.Second)},
		{Path: "tokenIssuedAt", Value: now},
		{Path: "refreshLeaseUntil", Value: time.Time{}},
		{Path: "updatedAt", Value: now},
	})
}

// ErrJobStarted: a job can no longer be cancelled by its owner (it has
// started, or ended otherwise than cancelled).
var ErrJobStarted = errors.New("job has started")

// ErrAccountGone: CreateJob found the job's account disconnected or
// deleted (since the caller read it).
var ErrAccountGone = errors.New("the job's account is no longer connected")

// CancelJob cancels a scheduled job, in a transaction, for its owner. A job
// already cancelled is returned as it is (cancelling twice is fine); a job
// past "scheduled" is returned with ErrJobStarted; ErrNotFound when there
// is none. An attempt that claimed the job but has not moved it on yet
// loses: its next write finds the job cancelled and stops.
func (s *Store) CancelJob(ctx context.Context, uid, accountID, jobID, reason string, now time.Time) (*Job, error) {
	ref := s.jobDoc(uid, accountID, jobID)
	var j Job
	err := s.runTx(ctx, func(ctx context.Context, tx *firestore.Transaction) error {
		snap, err := tx.Get(ref)
		if status.Code(err) == codes.NotFound {
			return ErrNotFound
		}
		if err != nil {
			return err
		}
		j = Job{}
		if err := snap.DataTo(&j); err != nil {
			return fmt.Errorf("decode job: %w", err)
		}
		switch j.Status {
		case JobCancelled:
			return nil
		case JobScheduled:
		default:
			return ErrJobStarted
		}
		return tx.Update(ref, cancelUpdates(&j, reason, now))
	})
	switch {
	case errors.Is(err, ErrNotFound):
		return nil, err
	case errors.Is(err, ErrJobStarted):
		return &j, err
	case err != nil:
		return nil, fmt.Errorf("cancel job: %w", err)
	}
	return &j, nil
}
