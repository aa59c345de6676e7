package publish

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"threadsfunctions.dev/shared/logging"
	"threadsfunctions.dev/shared/store"
	"threadsfunctions.dev/shared/threads"
	"threadsfunctions.dev/shared/tokens"
)

// Threads is the part of the Threads client that publishing uses.
type Threads interface {
	CreateContainer(ctx context.Context, userID, token string, p threads.ContainerParams) (string, error)
	Publish(ctx context.Context, userID, token, containerID string) (string, error)
	ContainerStatus(ctx context.Context, token, containerID string) (*threads.ContainerStatus, error)
	PublishingLimit(ctx context.Context, userID, token string) (*threads.PublishingLimit, error)
	RefreshToken(ctx context.Context, token string) (*threads.LongLivedToken, error)
}

// Container statuses reported by Threads.
const (
	ContainerInProgress = "IN_PROGRESS"
	ContainerFinished   = "FINISHED"
	ContainerPublished  = "PUBLISHED"
	ContainerError      = "ERROR"
	ContainerExpired    = "EXPIRED"
)

// Failure reasons recorded on failed jobs (JobError.Reason).
const (
	ReasonReauthRequired = "reauth_required"
	ReasonMediaFailed    = "media_failed"
	ReasonRejected       = "threads_rejected"
	ReasonQuotaExceeded  = "quota_exceeded"
	ReasonInvalidJob     = "invalid_job"
	// ReasonChainBroken: a part of a reply chain was published but Threads
	// did not say its id (its answer was lost), so the next part has
	// nothing to reply to. The parts before it are published.
	ReasonChainBroken = "chain_interrupted"
)

// State is what an attempt left the job in.
type State int

// Attempt outcomes.
const (
	// Done: the job is published or failed; nothing more will happen.
	Done State = iota
	// Waiting: Threads is still processing media; try again after RetryAfter.
	Waiting
	// Retry: a transient failure; try again after RetryAfter.
	Retry
	// Busy: another attempt holds the job; try again after RetryAfter.
	Busy
	// QuotaExceeded: the account's publishing quota is spent until RetryAfter; the job was not attempted.
	QuotaExceeded
	// Scheduled: the job is not due yet; deliver it again after RetryAfter.
	Scheduled
)

// Result is the outcome of one attempt.
type Result struct {
	State      State
	Job        *store.Job
	RetryAfter time.Duration
	// Attempt numbers the claim this attempt held (0 when it held none); a
	// follow-up task named after it is unique to this attempt.
	Attempt int
}

// Engine carries out publish jobs.
type Engine struct {
	Store   *store.Store
	Threads Threads
	Log     *slog.Logger // nil: the context's logger

	// Now is the clock (nil: time.Now).
	Now func() time.Time
	// Backoff is the wait between status polls while Threads processes
	// media; the last value repeats. Nil: DefaultBackoff.
	Backoff []time.Duration
	// Lease is how long an attempt holds a job (zero: DefaultLease). It must
	// outlast an attempt's budget.
	Lease time.Duration
	// WaitDelay and RetryDelay override WaitingRetry and TransientRetry (tests, local runs).
	WaitDelay, RetryDelay time.Duration
	// MaxProcessing is how long Threads may process the post's media before
	// the job fails (zero: DefaultMaxProcessing).
	MaxProcessing time.Duration
}

func (e *Engine) maxProcessing() time.Duration {
	if e.MaxProcessing > 0 {
		return e.MaxProcessing
	}
	return DefaultMaxProcessing
}

func (e *Engine) waitDelay() time.Duration {
	if e.WaitDelay > 0 {
		return e.WaitDelay
	}
	return WaitingRetry
}

func (e *Engine) lease() time.Duration {
	if e.Lease != 0 {
		return e.Lease
	}
	return DefaultLease
}

// TransientWait is how long to wait before retrying after a transient
// failure: TransientRetry, or RetryDelay when set.
func (e *Engine) TransientWait() time.Duration {
	if e.RetryDelay > 0 {
		return e.RetryDelay
	}
	return TransientRetry
}

// Defaults.
var (
	DefaultBackoff = []time.Duration{time.Second, 2 * time.Second, 3 * time.Second, 5 * time.Second}
)

// Tuning constants.
const (
	// DefaultLease is how long an attempt holds a job. No attempt outlives
	// it: a user's request and a task delivery end by thPublish's timeout
	// (120 s, terraform/thpublish.tf), after which another attempt may
	// claim the job, and the sweep may end a lease a cancel kept.
	DefaultLease = 2 * time.Minute
	// WaitingRetry is when to look again at media that is still processing
	// (Meta advises polling about once a minute).
	WaitingRetry = 30 * time.Second
	// TransientRetry is the suggested delay after a transient failure.
	TransientRetry = 15 * time.Second
	// DefaultMaxProcessing bounds how long the post's media may stay
	// IN_PROGRESS after its containers were created: the job then fails
	// (media_failed) rather than poll Threads until the containers expire a
	// day later, and be created again. Meta advises polling for at most
	// 5 minutes; large videos get six times that.
	DefaultMaxProcessing = 30 * time.Minute
	// MaxTaskBackoff is the longest Cloud Tasks waits before delivering a
	// task again after a non-2xx answer (the queue's max_backoff in
	// terraform/thpublish.tf). A job released for a retry that a task
	// delivery answers with 503 is due again by then at the latest.
	MaxTaskBackoff = 10 * time.Minute
	// refreshWindow: a token at least 24 h old and within 7 days of expiry
	// is refreshed before publishing.
	refreshWindow = 7 * 24 * time.Hour
)

func (e *Engine) now() time.Time {
	if e.Now != nil {
		return e.Now()
	}
	return time.Now()
}

func (e *Engine) log(ctx context.Context) *slog.Logger {
	if e.Log != nil {
		return e.Log
	}
	return logging.FromContext(ctx)
}

// Run makes one attempt at a job within budget: it claims the job, resumes
// from the recorded step, and records each step before taking the next.
// It is a Cloud Tasks delivery's attempt: a job refused for a spent quota
// stays due when the quota frees (its caller enqueues a task for then).
func (e *Engine) Run(ctx context.Context, uid, accountID, jobID string, budget time.Duration) (*Result, error) {
	return e.run(ctx, uid, accountID, jobID, budget, false)
}

// RunRequest is Run for a user's request repeated with the job's
// idempotency key. The user is answered what comes of it: a spent quota
// (429, "try again later") fails a job that cannot have posted anything,
// so that nothing takes it up by itself later (the user may well post it
// again under a new key), where a task's attempt waits for the quota (see
// checkQuota).
func (e *Engine) RunRequest(ctx context.Context, uid, accountID, jobID string, budget time.Duration) (*Result, error) {
	return e.run(ctx, uid, accountID, jobID, budget, true)
}

func (e *Engine) run(ctx context.Context, uid, accountID, jobID string, budget time.Duration, byUser bool) (*Result, error) {
	owner := newOwner()
	now := e.now()
	job, err := e.Store.ClaimJob(ctx, uid, accountID, jobID, owner, now, e.lease())
	switch {
	case errors.Is(err, store.ErrJobBusy):
		cur, gerr := e.Store.GetJob(ctx, uid, accountID, jobID)
		if gerr != nil {
			return nil, gerr
		}
		wait := max(cur.LeaseUntil.Sub(now), time.Second)
		return &Result{State: Busy, Job: cur, RetryAfter: wait}, nil
	case err != nil:
		return nil, err
	case job.Status.Terminal():
		return &Result{State: Done, Job: job}, nil
	}
	a := &attempt{Engine: e, job: job, owner: owner, deadline: now.Add(budget), byUser: byUser}
	return a.do(ctx, a.run)
}

// NewClaim returns the lease fields of a job created already claimed (see
// store.CreateJob), for Start: its owner and lease end.
func (e *Engine) NewClaim(now time.Time) (owner string, until time.Time) {
	return newOwner(), now.Add(e.lease())
}

// Start stores a new job, already claimed by the caller (LeaseOwner and
// LeaseUntil from NewClaim), and makes its first attempt with the account
// it is for: no claim and no account read are needed.
//
// A single text post's container is created before the job is stored, so
// that the job is stored already "publishing" with the container's id and
// the attempt goes straight on to the publish call: one write fewer than
// storing the job first. A crash before the job is stored leaves only an
// unpublished container, which expires; a failed container call is
// classified once the job is stored, as in any attempt.
//
// When a job with this id exists already (a repeated idempotency key) it is
// returned with created false and no attempt is made (a container created
// for the repeat stays unpublished and expires); err is then the store's.
// With created true, res and err are the attempt's.
func (e *Engine) Start(ctx context.Context, job *store.Job, acct *store.Account, budget time.Duration) (res *Result, stored *store.Job, created bool, err error) {
	a := &attempt{Engine: e, job: job, owner: job.LeaseOwner, deadline: e.now().Add(budget), acct: acct, byUser: true}
	containerErr := a.containerFirst(ctx)
	stored, created, err = e.Store.CreateJob(ctx, job)
	if err != nil || !created {
		return nil, stored, created, err
	}
	res, err = a.do(ctx, func(ctx context.Context) (*Result, error) {
		switch {
		case containerErr != nil:
			return a.threadsError(ctx, containerErr)
		case a.job.Status == store.JobPublishing:
			return a.sendPublish(ctx)
		}
		return a.run(ctx)
	})
	return res, stored, true, err
}

// containerFirst creates a single text post's container before its job is
// stored (see Start), when nothing else has to come first: the account's
// token usable as it is (not to be refreshed). On success the job becomes
// "publishing" with the container. The container call's error is returned,
// to be classified once the job is stored.
func (a *attempt) containerFirst(ctx context.Context) error {
	j, acct, now := a.job, a.acct, a.now()
	if acct == nil || j.Status != store.JobAccepted || j.Kind != string(KindText) || len(j.Parts) > 0 || !j.PublishAt.IsZero() ||
		acct.Status != store.StatusActive || tokens.Expired(acct, now) || tokens.Due(acct, now, refreshWindow) {
		return nil
	}
	var req Request
	if err := json.Unmarshal([]byte(j.Request), &req); err != nil {
		return nil // the attempt fails the job
	}
	tok, err := a.Store.OpenToken(j.UID, acct)
	if err != nil {
		return nil // the attempt reports it
	}
	a.req, a.token, a.tokenIssuedAt, a.userID = &req, tok, acct.TokenIssuedAt, acct.AccountID
	id, err := a.Threads.CreateContainer(ctx, a.userID, a.token, containerParams(&req, nil))
	if err != nil {
		return err
	}
	j.ContainerID, j.Status = id, store.JobPublishing
	return nil
}

// do runs the attempt's steps; on an error it gives the lease back.
func (a *attempt) do(ctx context.Context, steps func(context.Context) (*Result, error)) (*Result, error) {
	res, err := steps(ctx)
	if err != nil {
		// Give the lease back so a retry need not wait for it to expire.
		a.release(ctx, a.retryDue(0))
		return nil, err
	}
	res.Attempt = a.job.Attempts
	return res, nil
}

type attempt struct {
	*Engine
	job      *store.Job
	owner    string
	deadline time.Time
	acct     *store.Account // the account, when the caller has it
	// byUser: a user's request, answered with the outcome: a spent quota
	// fails a job that cannot have posted (see checkQuota).
	byUser bool
	req    *Request
	// quotaChecked: the publishing limit was read in this attempt.
	quotaChecked bool
	// createdAgain: this attempt sent the part back for new containers
	// after one expired (see createAgain).
	createdAgain bool
	// unsettled: an earlier attempt's publish call may have posted, and no
	// status read has said otherwise yet (see checkQuota).
	unsettled bool
	token     string
	// posted is the part whose publish call posted it, until that is
	// recorded: a release then records it (KeepPublished) rather than give
	// up a lease a cancel kept for it.
	posted *postedPart
	// tokenIssuedAt identifies token: a refusal of it marks the account
	// needs_reauth only while the account still holds it.
	tokenIssuedAt time.Time
	userID        string
}

func (a *attempt) run(ctx context.Context) (*Result, error) {
	j := a.job
	var req Request
	if err := json.Unmarshal([]byte(j.Request), &req); err != nil {
		return a.fail(ctx, &store.JobError{Reason: ReasonInvalidJob, Message: "the stored request does not decode"})
	}
	a.req = &req
	if j.Status == store.JobScheduled {
		if wait := j.PublishAt.Sub(a.now()); wait > 0 {
			// Delivered early: not due yet.
			a.release(ctx, j.PublishAt)
			return &Result{State: Scheduled, Job: j, RetryAfter: wait}, nil
		}
		// Due: from here on it runs like a job accepted now, the account,
		// its token and the quota checked again. The write also makes sure
		// the owner has not cancelled it meanwhile.
		j.Status = store.JobAccepted
		if err := a.save(ctx); err != nil {
			return nil, err
		}
	}
	acct := a.acct
	if acct == nil {
		var err error
		acct, err = a.Store.GetAccount(ctx, j.UID, j.AccountID)
		if errors.Is(err, store.ErrNotFound) {
			return a.fail(ctx, &store.JobError{Reason: ReasonReauthRequired, Message: "the account is no longer connected"})
		}
		if err != nil {
			return nil, err
		}
	}
	if res, err := a.prepareToken(ctx, acct); res != nil || err != nil {
		return res, err
	}
	a.userID = acct.AccountID

	// A chain's quota is checked before its first part, so that it does
	// not stop half-way for want of replies. A single post's is read only
	// when Threads refuses it with a rate limit (see threadsError): on the
	// happy path a text post is two Threads calls.
	if len(j.Parts) > 0 && j.Status == store.JobAccepted && j.Part == 0 && j.ContainerID == "" && len(j.Children) == 0 {
		a.quotaChecked = true
		if res, err := a.checkQuota(ctx); res != nil || err != nil {
			return res, err
		}
	}
	// One step per part: a part that is published moves the job to the
	// next part and returns no result, as does a part whose container
	// expired, back at accepted to be created again (createAgain).
	for start := j.Part; ; {
		if j.Part > start && a.now().After(a.deadline) {
			// Out of budget between parts: the rest continues in a task.
			if err := a.saveReleased(ctx, a.retryDue(time.Second)); err != nil {
				return nil, err
			}
			return &Result{State: Retry, Job: j, RetryAfter: time.Second}, nil
		}
		res, err := a.step(ctx)
		if res != nil || err != nil {
			return res, err
		}
	}
}

// step carries the current part from its recorded step to published.
func (a *attempt) step(ctx context.Context) (*Result, error) {
	j := a.job
	switch j.Status {
	case store.JobAccepted:
		if res, err := a.createContainers(ctx); res != nil || err != nil {
			return res, err
		}
		fallthrough
	case store.JobContainerCreated:
		return a.publish(ctx)
	case store.JobPublishing:
		return a.resolvePublishing(ctx)
	}
	return a.fail(ctx, &store.JobError{Reason: ReasonInvalidJob, Message: "unknown job status " + string(j.Status)})
}

// first reports whether the part in progress is the post itself (or a
// chain's first part), which carries the request's media and features.
func (a *attempt) first() bool { return a.job.Part == 0 }

// prepareToken opens the account's token, refreshing it first when it is
// old enough and close to expiry (the path thRefresh shares).
func (a *attempt) prepareToken(ctx context.Context, acct *store.Account) (*Result, error) {
	if acct.Status != store.StatusActive || tokens.Expired(acct, a.now()) {
		return a.fail(ctx, &store.JobError{Reason: ReasonReauthRequired, Message: "the Threads account must be connected again"})
	}
	tok, err := a.Store.OpenToken(a.job.UID, acct)
	if err != nil {
		return nil, err
	}
	r := &tokens.Refresher{Store: a.Store, Threads: a.Threads, Now: a.Now}
	tok, outcome, err := r.Refresh(ctx, a.job.UID, acct, tok, refreshWindow)
	switch outcome {
	case tokens.NeedsReauth:
		return a.fail(ctx, &store.JobError{Reason: ReasonReauthRequired, Message: "Threads refused the account's token; the account must be connected again"})
	case tokens.Failed:
		// The current token is still valid for days: publish with it.
		a.log(ctx).Warn("publish: token refresh failed; using the current token", errAttrs(err)...)
	case tokens.Refreshed:
		a.log(ctx).Info("publish: token refreshed", "accountId", acct.AccountID)
	}
	a.token, a.tokenIssuedAt = tok, acct.TokenIssuedAt
	return nil, nil
}

// checkQuota checks that the account can publish what is left of the job:
// the post (unless it is a reply) and the replies (a chain's later parts).
// A job that finds the quota spent before anything of it can have been
// posted ends, failed, when it is scheduled (posting it a day late is not
// what was asked) or a user's request is waiting (told 429, the user may
// post it anew); otherwise (a task's attempt, or a job that may already
// have posted: a publish call's outcome unsettled, a chain part out) it
// stays at its step, released, to go on when the quota frees up, and
// QuotaExceeded is returned with the job not ended.
func (a *attempt) checkQuota(ctx context.Context) (*Result, error) {
	j, req := a.job, a.req
	lim, err := a.Threads.PublishingLimit(ctx, a.userID, a.token)
	if err != nil {
		return a.threadsError(ctx, err)
	}
	var posts, replies int64
	if j.Part == 0 && req.ReplyToID == "" {
		posts = 1
	} else {
		replies = 1
	}
	if n := len(j.Parts); n > 0 {
		replies += int64(n - 1 - j.Part)
	}
	postsOver := posts > 0 && lim.QuotaTotal > 0 && lim.QuotaUsage+posts > lim.QuotaTotal
	repliesOver := replies > 0 && lim.ReplyQuotaTotal > 0 && lim.ReplyQuotaUsage+replies > lim.ReplyQuotaTotal
	if !postsOver && !repliesOver {
		return nil, nil
	}
	var wait time.Duration
	if postsOver {
		wait = time.Duration(lim.QuotaDuration) * time.Second
	}
	if repliesOver {
		wait = max(wait, time.Duration(lim.ReplyQuotaDuration)*time.Second)
	}
	if wait <= 0 {
		wait = 24 * time.Hour
	}
	// Nothing can have been posted yet: no earlier publish call whose
	// outcome is unsettled, no chain part out. Only then may the job end.
	untouched := !a.unsettled && j.Part == 0
	if untouched && !j.PublishAt.IsZero() {
		return a.fail(ctx, &store.JobError{Reason: ReasonQuotaExceeded, Message: fmt.Sprintf(
			"the account's publishing quota was spent when the post was due (%d of %d posts, %d of %d replies in the last 24 hours)",
			lim.QuotaUsage, lim.QuotaTotal, lim.ReplyQuotaUsage, lim.ReplyQuotaTotal)})
	}
	if untouched && a.byUser {
		// The user is answered 429 "try again later": the job ends here,
		// failed, so that nothing (a task still queued for it, the sweep)
		// posts it later, perhaps after the user posted it again.
		res, err := a.fail(ctx, &store.JobError{Reason: ReasonQuotaExceeded, Message: fmt.Sprintf(
			"the account's publishing quota was spent (%d of %d posts, %d of %d replies in the last 24 hours); nothing was posted: publish it again once the quota frees up",
			lim.QuotaUsage, lim.QuotaTotal, lim.ReplyQuotaUsage, lim.ReplyQuotaTotal)})
		if err != nil {
			return nil, err
		}
		res.State, res.RetryAfter = QuotaExceeded, wait
		return res, nil
	}
	a.release(ctx, a.now().Add(wait))
	return &Result{State: QuotaExceeded, Job: a.job, RetryAfter: wait}, nil
}

// createContainers creates the carousel items (waiting for them to finish)
// and the post's container, recording each.
func (a *attempt) createContainers(ctx context.Context) (*Result, error) {
	j, req := a.job, a.req
	for a.first() && req.Kind() == KindCarousel {
		if len(j.Children) < len(req.Media) {
			// The items do not depend on each other: create them at once.
			children := make([]string, len(req.Media))
			err := concurrently(len(req.Media), func(i int) error {
				m := req.Media[i]
				p := threads.ContainerParams{IsCarouselItem: true, AltText: m.AltText}
				if m.Type == "video" {
					p.MediaType, p.VideoURL = string(KindVideo), m.URL
				} else {
					p.MediaType, p.ImageURL = string(KindImage), m.URL
				}
				id, err := a.Threads.CreateContainer(ctx, a.userID, a.token, p)
				children[i] = id
				return err
			})
			if err != nil {
				// Items created before the failure are never published and
				// expire: the retry creates them all again.
				return a.threadsError(ctx, err)
			}
			j.Children, j.ContainersAt = children, a.now()
			if err := a.save(ctx); err != nil {
				return nil, err
			}
		}
		res, again, err := a.waitFinished(ctx, j.Children...)
		if res != nil || err != nil {
			return res, err
		}
		if !again {
			break
		}
		// An item expired: the items are created again (once: a second
		// expiry fails the job).
	}
	params := containerParams(req, j.Children)
	if j.LinkDropped {
		params.LinkAttachment = ""
	}
	if len(j.Parts) > 0 {
		params.Text = j.Parts[j.Part].Text
		if !a.first() {
			// Later parts are plain text replies to the part before.
			params = threads.ContainerParams{MediaType: string(KindText), Text: j.Parts[j.Part].Text,
				ReplyToID: j.Parts[j.Part-1].MediaID, ReplyControl: req.ReplyControl}
		}
	}
	id, err := a.Threads.CreateContainer(ctx, a.userID, a.token, params)
	if err != nil {
		return a.threadsError(ctx, err)
	}
	j.ContainerID, j.Status = id, store.JobContainerCreated
	if a.first() && req.Kind() != KindText {
		j.ContainersAt = a.now()
		// Media processes for a while: record the container now. A text
		// container goes straight on to "publishing", whose write records
		// it (a retry before that just creates another, which is harmless).
		if err := a.save(ctx); err != nil {
			return nil, err
		}
	}
	return nil, nil
}

func containerParams(req *Request, children []string) threads.ContainerParams {
	p := threads.ContainerParams{
		MediaType:      string(req.Kind()),
		Text:           req.Text,
		ReplyToID:      req.ReplyToID,
		QuotePostID:    req.QuotePostID,
		ReplyControl:   req.ReplyControl,
		LinkAttachment: req.LinkAttachment,
		TopicTag:       req.TopicTag,
	}
	switch req.Kind() {
	case KindImage:
		p.ImageURL, p.AltText = req.ImageURL, req.AltText
	case KindVideo:
		p.VideoURL, p.AltText = req.VideoURL, req.AltText
	case KindCarousel:
		p.Children = children
	}
	if req.Poll != nil {
		// Trimmed, as Check counts them.
		var o [MaxPollOptions]string
		for i, opt := range req.Poll.Options[:min(len(req.Poll.Options), MaxPollOptions)] {
			o[i] = trimSpace(opt)
		}
		p.Poll = &threads.PollAttachment{OptionA: o[0], OptionB: o[1], OptionC: o[2], OptionD: o[3]}
	}
	if req.LongText != "" {
		p.TextAttachment = &threads.TextAttachment{Plaintext: req.LongText, LinkAttachmentURL: req.LongTextLink}
		for _, st := range req.LongTextStyles {
			p.TextAttachment.Styling = append(p.TextAttachment.Styling, threads.TextStyling{Offset: st.Offset, Length: st.Length, Styling: st.Styles})
		}
	}
	for _, sp := range req.Spoilers {
		p.TextEntities = append(p.TextEntities, threads.TextEntity{EntityType: "SPOILER", Offset: sp.Offset, Length: sp.Length})
	}
	p.IsSpoilerMedia, p.IsGhostPost = req.SpoilerMedia, req.Ghost
	if req.GIF != nil {
		p.GIF = &threads.GIFAttachment{GIFID: req.GIF.ID, Provider: req.GIF.Provider}
	}
	p.AllowlistedCountryCodes = req.AllowlistedCountryCodes
	return p
}

// publish waits for the container, records "publishing", then publishes.
func (a *attempt) publish(ctx context.Context) (*Result, error) {
	j := a.job
	if a.first() && a.req.Kind() != KindText {
		// again: the container expired, and the part is back to accepted
		// for the run loop to create it again.
		if res, again, err := a.waitFinished(ctx, j.ContainerID); res != nil || err != nil || again {
			return res, err
		}
	}
	j.Status = store.JobPublishing
	if err := a.save(ctx); err != nil {
		return nil, err
	}
	return a.sendPublish(ctx)
}

// sendPublish makes the publish call for a job recorded as "publishing".
func (a *attempt) sendPublish(ctx context.Context) (*Result, error) {
	j := a.job
	mediaID, err := a.Threads.Publish(ctx, a.userID, a.token, j.ContainerID)
	if err != nil {
		// A refusal is acted on only once the container's status says it
		// was not published after all; a failed link preview (dropped
		// below, in threadsError) is a refusal whatever its flags say.
		var apiErr *threads.APIError
		if errors.As(err, &apiErr) && (!apiErr.Temporary() || apiErr.LinkPreviewFailed()) && !apiErr.MediaNotReady() && !apiErr.TokenInvalid() {
			if res, serr := a.publishedAfterAll(ctx); res != nil || serr != nil {
				return res, serr
			}
		}
		// Unknown outcomes and transient failures leave the job in
		// "publishing": the next attempt reads the container's status first.
		return a.threadsError(ctx, err)
	}
	return a.published(ctx, mediaID)
}

// publishedAfterAll is asked before acting on a refused publish call: an
// earlier call whose answer was lost may have published the container after
// all. It returns the job's outcome when the container is published, or
// when its status cannot be read (the refusal is acted on only once the
// answer is known); nil, nil when it is not published.
func (a *attempt) publishedAfterAll(ctx context.Context) (*Result, error) {
	st, err := a.Threads.ContainerStatus(ctx, a.token, a.job.ContainerID)
	switch {
	case err != nil:
		return a.threadsError(ctx, err)
	case st.Status == ContainerPublished:
		return a.published(ctx, "")
	}
	return nil, nil
}

// resolvePublishing resumes a job whose last publish call has no recorded
// outcome: the container's status says whether it was published.
func (a *attempt) resolvePublishing(ctx context.Context) (*Result, error) {
	j := a.job
	a.unsettled = true
	st, err := a.Threads.ContainerStatus(ctx, a.token, j.ContainerID)
	if err != nil {
		return a.threadsError(ctx, err)
	}
	a.unsettled = st.Status == ContainerPublished
	switch st.Status {
	case ContainerPublished:
		a.log(ctx).Info("publish: container found published; not publishing again", "jobId", j.JobID)
		return a.published(ctx, "")
	case ContainerFinished, ContainerInProgress:
		if st.Status == ContainerInProgress {
			if res, again, err := a.waitFinished(ctx, j.ContainerID); res != nil || err != nil || again {
				return res, err
			}
		}
		// As publish does: the job must still be this attempt's (not
		// cancelled since its claim, or during the wait) when the call
		// goes out.
		if err := a.save(ctx); err != nil {
			return nil, err
		}
		return a.sendPublish(ctx)
	case ContainerExpired:
		return a.createAgain(ctx, st)
	default:
		return a.fail(ctx, &store.JobError{Reason: ReasonMediaFailed, Message: containerMessage(st)})
	}
}

// waitFinished polls the containers until all are FINISHED, with backoff,
// within the attempt's budget. ERROR fails the job. EXPIRED, a container
// that waited 24 hours unpublished, sends the part back to accepted for new
// containers (createAgain): again is then true with no result, and the
// caller has them created again (createContainers itself for carousel
// items, else the run loop). Media still IN_PROGRESS MaxProcessing after
// the job's ContainersAt fails the job.
func (a *attempt) waitFinished(ctx context.Context, ids ...string) (res *Result, again bool, err error) {
	backoff := a.Backoff
	if backoff == nil {
		backoff = DefaultBackoff
	}
	pending := append([]string(nil), ids...)
	for i := 0; ; i++ {
		var still []string
		sts := make([]*threads.ContainerStatus, len(pending))
		if err := concurrently(len(pending), func(i int) error {
			st, err := a.Threads.ContainerStatus(ctx, a.token, pending[i])
			sts[i] = st
			return err
		}); err != nil {
			res, err := a.threadsError(ctx, err)
			return res, false, err
		}
		var expired *threads.ContainerStatus
		for i, id := range pending {
			st := sts[i]
			switch st.Status {
			case ContainerFinished, ContainerPublished:
			case ContainerInProgress, "":
				still = append(still, id)
			case ContainerExpired:
				expired = cmp.Or(expired, st)
			default:
				// ERROR (or a status newer than this code) fails the job,
				// even when another container merely expired.
				res, err := a.fail(ctx, &store.JobError{Reason: ReasonMediaFailed, Message: containerMessage(st)})
				return res, false, err
			}
		}
		if expired != nil {
			res, err := a.createAgain(ctx, expired)
			return res, res == nil && err == nil, err
		}
		if len(still) == 0 {
			return nil, false, nil
		}
		// The bound is the post's media's: ContainersAt is set for them only,
		// and kept while a chain's later (text) parts publish.
		if since := a.job.ContainersAt; a.first() && !since.IsZero() {
			if d := a.now().Sub(since); d > a.maxProcessing() {
				res, err := a.fail(ctx, &store.JobError{Reason: ReasonMediaFailed, Message: fmt.Sprintf(
					"Threads was still processing the media %s after its container was created (the limit is %s)",
					d.Round(time.Second), a.maxProcessing())})
				return res, false, err
			}
		}
		pending = still
		d := backoff[min(i, len(backoff)-1)]
		if a.now().Add(d).After(a.deadline) {
			// Both callers enqueue the next look for when it is due.
			if err := a.saveReleased(ctx, a.now().Add(a.waitDelay())); err != nil {
				return nil, false, err
			}
			return &Result{State: Waiting, Job: a.job, RetryAfter: a.waitDelay()}, false, nil
		}
		t := time.NewTimer(d)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, false, ctx.Err()
		case <-t.C:
		}
	}
}

// createAgain answers a container (or carousel item) found EXPIRED: never
// published, and now unpublishable (24 hours passed while the job waited,
// e.g. out the quota). The part starts again, back to accepted with no
// containers, and nil, nil is returned: the caller has them created again
// (createContainers itself for carousel items, else the run loop). Once
// per attempt: a container created in this attempt has not
// waited 24 hours, so an expiry after that fails the job (no attempt loops
// on a container that keeps expiring).
func (a *attempt) createAgain(ctx context.Context, st *threads.ContainerStatus) (*Result, error) {
	j := a.job
	if a.createdAgain {
		return a.fail(ctx, &store.JobError{Reason: ReasonMediaFailed,
			Message: containerMessage(st) + ", though it was created again in this attempt"})
	}
	a.createdAgain = true
	a.log(ctx).Info("publish: container expired unpublished; creating it again", "jobId", j.JobID, "containerId", st.ID)
	j.Status, j.ContainerID, j.Children = store.JobAccepted, "", nil
	if err := a.save(ctx); err != nil {
		return nil, err
	}
	return nil, nil
}

// concurrently runs f(0) … f(n-1) at once and returns the error of the
// lowest index that failed. One call runs on the caller's goroutine.
func concurrently(n int, f func(i int) error) error {
	if n == 1 {
		return f(0)
	}
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { errs[i] = f(i) })
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

func containerMessage(st *threads.ContainerStatus) string {
	msg := "Threads could not process the media: " + st.Status
	if st.ErrorMessage != "" {
		msg += " (" + st.ErrorMessage + ")"
	}
	return msg
}

// threadsError classifies a Threads failure: a revoked token needs the user,
// transient failures and unknown outcomes retry, anything else fails the job.
func (a *attempt) threadsError(ctx context.Context, err error) (*Result, error) {
	if errors.Is(err, context.Canceled) && ctx.Err() != nil {
		return nil, err
	}
	if isTokenInvalid(err) {
		return a.reauth(ctx, err)
	}
	var apiErr *threads.APIError
	isAPI := errors.As(err, &apiErr)
	if isAPI && apiErr.RateLimited() && !a.quotaChecked && a.req != nil {
		// A refusal for a limit may be the account's spent quota: only now
		// is it worth reading.
		a.quotaChecked = true
		if res, qerr := a.checkQuota(ctx); res != nil || qerr != nil {
			return res, qerr
		}
	}
	// A publish call answered 5xx may have published whatever it says: only
	// a later status read can end the job then (below, as transient).
	unknown := a.job.Status == store.JobPublishing && threads.IsUnknownOutcome(err)
	if isAPI && apiErr.MediaUnfetchable() && !unknown {
		return a.fail(ctx, jobError(ReasonMediaFailed, err))
	}
	if isAPI && apiErr.LinkPreviewFailed() && !unknown && a.job.Status == store.JobPublishing && a.req != nil && a.req.LinkAttachment != "" && !a.job.LinkDropped {
		// Threads answers this to the publish call only, and sendPublish
		// has read the container's status before coming here.
		return a.dropLinkPreview(ctx, err)
	}
	if !isAPI || apiErr.Temporary() || apiErr.MediaNotReady() || threads.IsUnknownOutcome(err) {
		a.log(ctx).Warn("publish: transient Threads failure", append(errAttrs(err), "jobId", a.job.JobID, "status", string(a.job.Status))...)
		wait := a.TransientWait()
		if isAPI && apiErr.MediaNotReady() {
			wait = a.waitDelay()
		}
		return a.retryLater(ctx, err, wait)
	}
	return a.fail(ctx, jobError(ReasonRejected, err))
}

// retryLater records err as the job's last error and releases the job,
// due again after wait: Retry.
func (a *attempt) retryLater(ctx context.Context, err error, wait time.Duration) (*Result, error) {
	a.job.LastError = jobError("transient", err)
	if serr := a.saveReleased(ctx, a.retryDue(wait)); serr != nil {
		return nil, serr
	}
	return &Result{State: Retry, Job: a.job, RetryAfter: wait}, nil
}

// dropLinkPreview answers Threads' failure to fetch the link_attachment's
// preview at publish (-1/4279047) as Threads advises: the post again, without
// link_attachment, from a new container, once. sendPublish has asked the
// refused container whether it was published after all (as it does for any
// refusal of a publish); it was not, and it expires.
func (a *attempt) dropLinkPreview(ctx context.Context, err error) (*Result, error) {
	j := a.job
	a.log(ctx).Warn("publish: link preview failed; publishing without link_attachment", append(errAttrs(err), "jobId", j.JobID)...)
	j.LinkDropped, j.Status, j.ContainerID = true, store.JobAccepted, ""
	if serr := a.save(ctx); serr != nil {
		return nil, serr
	}
	return a.step(ctx)
}

func (a *attempt) reauth(ctx context.Context, err error) (*Result, error) {
	marked, serr := a.Store.MarkNeedsReauth(ctx, a.job.UID, a.job.AccountID, a.tokenIssuedAt, a.now())
	if serr != nil {
		return nil, serr
	}
	if !marked {
		// The account no longer holds the refused token: reconnected
		// meanwhile (a new token: the post is tried again with it), or
		// revoked or marked already (the job fails as below).
		cur, gerr := a.Store.GetAccount(ctx, a.job.UID, a.job.AccountID)
		if gerr == nil && cur.Status == store.StatusActive && !tokens.Expired(cur, a.now()) {
			return a.retryLater(ctx, err, a.TransientWait())
		}
	}
	je := jobError(ReasonReauthRequired, err)
	je.Message = "Threads refused the account's token; the account must be connected again"
	return a.fail(ctx, je)
}

// published records that the current part's publish call posted it (with
// mediaID, "" when only its container's status said so) and moves the job
// on: to the next part, or to its end.
func (a *attempt) published(ctx context.Context, mediaID string) (*Result, error) {
	a.posted = &postedPart{part: a.job.Part, mediaID: mediaID}
	res, err := a.recordPublished(ctx, mediaID)
	switch {
	case errors.Is(err, store.ErrLeaseLost):
		return a.keepPublished(ctx, err)
	case err == nil:
		a.posted = nil
	}
	return res, err
}

// postedPart is a part whose post went out (see attempt.posted).
type postedPart struct {
	part    int
	mediaID string
}

// keepPublished is published's way out, for a.posted, when the job changed
// since the attempt's last write (lost): if it was cancelled out of this attempt's
// hands meanwhile (its account disconnected or revoked while the call was
// in flight), the post that went out is recorded all the same
// (store.KeepPublished), and the attempt ends with the job as it now is;
// otherwise another attempt has the job (it finds the post by its
// container's status) and lost is returned.
func (a *attempt) keepPublished(ctx context.Context, lost error) (*Result, error) {
	p := a.posted
	// Recorded even if the caller has gone: the post is out.
	kept, err := a.Store.KeepPublished(context.WithoutCancel(ctx), a.job, a.owner, p.part, p.mediaID, a.now())
	if err != nil {
		return nil, errors.Join(lost, err) // a.posted kept: the release tries again
	}
	a.posted = nil
	if kept == nil {
		return nil, lost
	}
	a.log(ctx).Warn("publish: the job was cancelled while its post was being published; the post is recorded",
		"jobId", kept.JobID, "part", p.part, "mediaId", p.mediaID, "status", string(kept.Status))
	return &Result{State: Done, Job: kept}, nil
}

func (a *attempt) recordPublished(ctx context.Context, mediaID string) (*Result, error) {
	j := a.job
	if len(j.Parts) > 0 {
		j.Parts[j.Part].Status, j.Parts[j.Part].MediaID = string(store.JobPublished), mediaID
		if j.Part == 0 {
			j.MediaID = mediaID
		}
		if j.Part < len(j.Parts)-1 {
			if mediaID == "" {
				// Found published after a lost answer: Threads does not
				// say the post's id, and the next part must reply to it.
				j.Part++
				j.ContainerID, j.Children = "", nil // the next part never started
				return a.fail(ctx, &store.JobError{Reason: ReasonChainBroken, Message: fmt.Sprintf(
					"part %d was published but Threads did not return its id, so part %d has nothing to reply to; parts 1 to %d are published",
					j.Part, j.Part+1, j.Part)})
			}
			j.Part++
			j.Status, j.ContainerID, j.Children, j.LastError = store.JobAccepted, "", nil, nil
			if err := a.save(ctx); err != nil {
				return nil, err
			}
			a.log(ctx).Info("publish: chain part published", "jobId", j.JobID, "part", j.Part, "of", len(j.Parts), "mediaId", mediaID)
			return nil, nil
		}
		mediaID = j.MediaID
	}
	j.Status, j.MediaID, j.PublishedAt, j.LastError = store.JobPublished, mediaID, a.now(), nil
	if err := a.saveReleased(ctx, time.Time{}); err != nil {
		return nil, err
	}
	a.log(ctx).Info("publish: published", "jobId", j.JobID, "accountId", j.AccountID, "mediaId", mediaID)
	return &Result{State: Done, Job: j}, nil
}

func (a *attempt) fail(ctx context.Context, je *store.JobError) (*Result, error) {
	j := a.job
	j.Status, j.Error = store.JobFailed, je
	if err := a.saveReleased(ctx, time.Time{}); err != nil {
		return nil, err
	}
	a.log(ctx).Warn("publish: job failed", "jobId", j.JobID, "reason", je.Reason, "code", je.Code, "subcode", je.Subcode, "fbtrace_id", je.FBTraceID, "threadsMessage", je.Message)
	return &Result{State: Done, Job: j}, nil
}

// save records the job's progress; the attempt keeps its lease (and the
// job stays due by the lease's end).
func (a *attempt) save(ctx context.Context) error {
	syncPart(a.job)
	return a.Store.UpdateJob(ctx, a.job, a.owner, a.now(), false)
}

// saveReleased records the job's progress and gives up the lease: the job
// is due again by due, when its next task should have taken it up (the
// sweep re-hands it to Cloud Tasks if nothing has); a job that has ended is
// due never (the store drops due).
func (a *attempt) saveReleased(ctx context.Context, due time.Time) error {
	syncPart(a.job)
	a.job.DueBy = due
	return a.Store.UpdateJob(ctx, a.job, a.owner, a.now(), true)
}

// release gives up the lease, best effort (a failed write leaves the lease
// to run out), the job due again by due. A job cancelled while this attempt
// was publishing it kept the attempt's lease: the attempt records the post
// it made and could not record yet (a.posted, KeepPublished), or, with no
// post to record, gives that lease up.
func (a *attempt) release(ctx context.Context, due time.Time) {
	ctx = context.WithoutCancel(ctx)
	a.job.DueBy = due
	err := a.Store.UpdateJob(ctx, a.job, a.owner, a.now(), true)
	if errors.Is(err, store.ErrLeaseLost) {
		if p := a.posted; p != nil {
			_, err = a.Store.KeepPublished(ctx, a.job, a.owner, p.part, p.mediaID, a.now())
		} else {
			_, err = a.Store.ReleaseCancelled(ctx, a.job, a.owner, a.now())
		}
	}
	if err != nil {
		a.log(ctx).Warn("publish: could not release the job", "jobId", a.job.JobID, "error", err.Error())
	}
}

// retryDue is when a job released for a retry after wait must have been
// taken up again: a user's request enqueues its task for then, but a task
// delivery answered 503 comes back on Cloud Tasks' backoff, up to
// MaxTaskBackoff later.
func (a *attempt) retryDue(wait time.Duration) time.Time {
	return a.now().Add(max(wait, MaxTaskBackoff))
}

// syncPart mirrors the job's step into the record of the part in progress.
func syncPart(j *store.Job) {
	if j.Part >= len(j.Parts) {
		return
	}
	p := &j.Parts[j.Part]
	switch j.Status {
	case store.JobPublished:
		// Set by published.
	case store.JobAccepted, store.JobScheduled:
		p.Status = store.PartPending
	case store.JobCancelled:
		if p.Status != string(store.JobPublished) {
			p.Status = string(store.JobCancelled)
		}
	default:
		p.Status = string(j.Status)
	}
	if p.Status != string(store.JobPublished) {
		p.ContainerID = j.ContainerID
	}
}

func isTokenInvalid(err error) bool {
	var apiErr *threads.APIError
	return errors.As(err, &apiErr) && apiErr.TokenInvalid()
}

func jobError(reason string, err error) *store.JobError {
	je := &store.JobError{Reason: reason, Message: err.Error()}
	var apiErr *threads.APIError
	if errors.As(err, &apiErr) {
		je.Code, je.Subcode, je.FBTraceID, je.Message = apiErr.Code, apiErr.Subcode, apiErr.FBTraceID, apiErr.Message
	}
	return je
}

func errAttrs(err error) []any {
	attrs := []any{"error", err.Error()}
	var apiErr *threads.APIError
	if errors.As(err, &apiErr) {
		out := make([]any, 0, 6)
		for _, at := range apiErr.LogAttrs() {
			out = append(out, at)
		}
		attrs = append(attrs, slog.Group("threads", out...))
	}
	return attrs
}

func newOwner() string {
	b := make([]byte, 8)
	if _, err := rand.Read(b); err != nil {
		panic(fmt.Sprintf("crypto/rand: %v", err))
	}
	return hex.EncodeToString(b)
}
