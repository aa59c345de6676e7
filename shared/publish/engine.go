package publish

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
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
}

func (e *Engine) waitDelay() time.Duration {
	if e.WaitDelay > 0 {
		return e.WaitDelay
	}
	return WaitingRetry
}

func (e *Engine) retryDelay() time.Duration {
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
	DefaultLease = 2 * time.Minute
	// WaitingRetry is when to look again at media that is still processing
	// (Meta advises polling about once a minute).
	WaitingRetry = 30 * time.Second
	// TransientRetry is the suggested delay after a transient failure.
	TransientRetry = 15 * time.Second
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
func (e *Engine) Run(ctx context.Context, uid, accountID, jobID string, budget time.Duration) (*Result, error) {
	owner := newOwner()
	now := e.now()
	lease := e.Lease
	if lease == 0 {
		lease = DefaultLease
	}
	job, err := e.Store.ClaimJob(ctx, uid, accountID, jobID, owner, now, lease)
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
	a := &attempt{Engine: e, job: job, owner: owner, deadline: now.Add(budget)}
	res, err := a.run(ctx)
	if err != nil {
		// Give the lease back so a retry need not wait for it to expire.
		a.release(ctx)
		return nil, err
	}
	res.Attempt = job.Attempts
	return res, nil
}

type attempt struct {
	*Engine
	job      *store.Job
	owner    string
	deadline time.Time
	token    string
	userID   string
}

func (a *attempt) run(ctx context.Context) (*Result, error) {
	j := a.job
	var req Request
	if err := json.Unmarshal([]byte(j.Request), &req); err != nil {
		return a.fail(ctx, &store.JobError{Reason: ReasonInvalidJob, Message: "the stored request does not decode"})
	}
	acct, err := a.Store.GetAccount(ctx, j.UID, j.AccountID)
	if errors.Is(err, store.ErrNotFound) {
		return a.fail(ctx, &store.JobError{Reason: ReasonReauthRequired, Message: "the account is no longer connected"})
	}
	if err != nil {
		return nil, err
	}
	if res, err := a.prepareToken(ctx, acct); res != nil || err != nil {
		return res, err
	}
	a.userID = acct.AccountID

	if j.Status == store.JobAccepted && j.ContainerID == "" && len(j.Children) == 0 {
		if res, err := a.checkQuota(ctx); res != nil || err != nil {
			return res, err
		}
	}
	switch j.Status {
	case store.JobAccepted:
		if res, err := a.createContainers(ctx, &req); res != nil || err != nil {
			return res, err
		}
		fallthrough
	case store.JobContainerCreated:
		return a.publish(ctx, &req)
	case store.JobPublishing:
		return a.resolvePublishing(ctx, &req)
	}
	return a.fail(ctx, &store.JobError{Reason: ReasonInvalidJob, Message: "unknown job status " + string(j.Status)})
}

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
	a.token = tok
	return nil, nil
}

func (a *attempt) checkQuota(ctx context.Context) (*Result, error) {
	lim, err := a.Threads.PublishingLimit(ctx, a.userID, a.token)
	if err != nil {
		return a.threadsError(ctx, err)
	}
	if lim.QuotaTotal > 0 && lim.QuotaUsage >= lim.QuotaTotal {
		a.release(ctx)
		wait := time.Duration(lim.QuotaDuration) * time.Second
		if wait <= 0 {
			wait = 24 * time.Hour
		}
		return &Result{State: QuotaExceeded, Job: a.job, RetryAfter: wait}, nil
	}
	return nil, nil
}

// createContainers creates the carousel items (waiting for them to finish)
// and the post's container, recording each.
func (a *attempt) createContainers(ctx context.Context, req *Request) (*Result, error) {
	j := a.job
	if req.Kind() == KindCarousel {
		if len(j.Children) < len(req.Media) {
			children := j.Children[:0:0]
			for _, m := range req.Media {
				p := threads.ContainerParams{IsCarouselItem: true, AltText: m.AltText}
				if m.Type == "video" {
					p.MediaType, p.VideoURL = string(KindVideo), m.URL
				} else {
					p.MediaType, p.ImageURL = string(KindImage), m.URL
				}
				id, err := a.Threads.CreateContainer(ctx, a.userID, a.token, p)
				if err != nil {
					return a.threadsError(ctx, err)
				}
				children = append(children, id)
			}
			j.Children = children
			if err := a.save(ctx, false); err != nil {
				return nil, err
			}
		}
		if res, err := a.waitFinished(ctx, j.Children...); res != nil || err != nil {
			return res, err
		}
	}
	id, err := a.Threads.CreateContainer(ctx, a.userID, a.token, containerParams(req, j.Children))
	if err != nil {
		return a.threadsError(ctx, err)
	}
	j.ContainerID, j.Status = id, store.JobContainerCreated
	if err := a.save(ctx, false); err != nil {
		return nil, err
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
		o := append(req.Poll.Options, "", "", "", "")
		p.Poll = &threads.PollAttachment{OptionA: o[0], OptionB: o[1], OptionC: o[2], OptionD: o[3]}
	}
	return p
}

// publish waits for the container, records "publishing", then publishes.
func (a *attempt) publish(ctx context.Context, req *Request) (*Result, error) {
	j := a.job
	if req.Kind() != KindText {
		if res, err := a.waitFinished(ctx, j.ContainerID); res != nil || err != nil {
			return res, err
		}
	}
	j.Status = store.JobPublishing
	if err := a.save(ctx, false); err != nil {
		return nil, err
	}
	return a.sendPublish(ctx)
}

// sendPublish makes the publish call for a job recorded as "publishing".
func (a *attempt) sendPublish(ctx context.Context) (*Result, error) {
	j := a.job
	mediaID, err := a.Threads.Publish(ctx, a.userID, a.token, j.ContainerID)
	if err != nil {
		var apiErr *threads.APIError
		if errors.As(err, &apiErr) && !apiErr.Temporary() && !apiErr.MediaNotReady() && !apiErr.TokenInvalid() {
			// A refusal may mean an earlier call whose answer was lost
			// published the container after all: ask before failing the job.
			if st, serr := a.Threads.ContainerStatus(ctx, a.token, j.ContainerID); serr == nil && st.Status == ContainerPublished {
				return a.published(ctx, "")
			}
		}
		// Unknown outcomes and transient failures leave the job in
		// "publishing": the next attempt reads the container's status first.
		return a.threadsError(ctx, err)
	}
	return a.published(ctx, mediaID)
}

// resolvePublishing resumes a job whose last publish call has no recorded
// outcome: the container's status says whether it was published.
func (a *attempt) resolvePublishing(ctx context.Context, req *Request) (*Result, error) {
	j := a.job
	st, err := a.Threads.ContainerStatus(ctx, a.token, j.ContainerID)
	if err != nil {
		return a.threadsError(ctx, err)
	}
	switch st.Status {
	case ContainerPublished:
		a.log(ctx).Info("publish: container found published; not publishing again", "jobId", j.JobID)
		return a.published(ctx, "")
	case ContainerFinished:
		return a.sendPublish(ctx)
	case ContainerInProgress:
		if res, err := a.waitFinished(ctx, j.ContainerID); res != nil || err != nil {
			return res, err
		}
		return a.sendPublish(ctx)
	default:
		return a.fail(ctx, &store.JobError{Reason: ReasonMediaFailed, Message: containerMessage(st)})
	}
}

// waitFinished polls the containers until all are FINISHED, with backoff,
// within the attempt's budget. ERROR and EXPIRED fail the job.
func (a *attempt) waitFinished(ctx context.Context, ids ...string) (*Result, error) {
	backoff := a.Backoff
	if backoff == nil {
		backoff = DefaultBackoff
	}
	pending := append([]string(nil), ids...)
	for i := 0; ; i++ {
		var still []string
		for _, id := range pending {
			st, err := a.Threads.ContainerStatus(ctx, a.token, id)
			if err != nil {
				return a.threadsError(ctx, err)
			}
			switch st.Status {
			case ContainerFinished, ContainerPublished:
			case ContainerInProgress, "":
				still = append(still, id)
			default:
				return a.fail(ctx, &store.JobError{Reason: ReasonMediaFailed, Message: containerMessage(st)})
			}
		}
		if len(still) == 0 {
			return nil, nil
		}
		pending = still
		d := backoff[min(i, len(backoff)-1)]
		if a.now().Add(d).After(a.deadline) {
			if err := a.save(ctx, true); err != nil {
				return nil, err
			}
			return &Result{State: Waiting, Job: a.job, RetryAfter: a.waitDelay()}, nil
		}
		t := time.NewTimer(d)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, ctx.Err()
		case <-t.C:
		}
	}
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
	if !isAPI || apiErr.Temporary() || apiErr.MediaNotReady() || threads.IsUnknownOutcome(err) {
		a.job.LastError = jobError("transient", err)
		a.log(ctx).Warn("publish: transient Threads failure", append(errAttrs(err), "jobId", a.job.JobID, "status", string(a.job.Status))...)
		if serr := a.save(ctx, true); serr != nil {
			return nil, serr
		}
		wait := a.retryDelay()
		if isAPI && apiErr.MediaNotReady() {
			wait = a.waitDelay()
		}
		return &Result{State: Retry, Job: a.job, RetryAfter: wait}, nil
	}
	return a.fail(ctx, jobError(ReasonRejected, err))
}

func (a *attempt) reauth(ctx context.Context, err error) (*Result, error) {
	if serr := a.Store.SetAccountStatus(ctx, a.job.UID, a.job.AccountID, store.StatusNeedsReauth, a.now()); serr != nil {
		return nil, serr
	}
	je := jobError(ReasonReauthRequired, err)
	je.Message = "Threads refused the account's token; the account must be connected again"
	return a.fail(ctx, je)
}

func (a *attempt) published(ctx context.Context, mediaID string) (*Result, error) {
	j := a.job
	j.Status, j.MediaID, j.PublishedAt, j.LastError = store.JobPublished, mediaID, a.now(), nil
	if err := a.save(ctx, true); err != nil {
		return nil, err
	}
	a.log(ctx).Info("publish: published", "jobId", j.JobID, "accountId", j.AccountID, "mediaId", mediaID)
	return &Result{State: Done, Job: j}, nil
}

func (a *attempt) fail(ctx context.Context, je *store.JobError) (*Result, error) {
	j := a.job
	j.Status, j.Error = store.JobFailed, je
	if err := a.save(ctx, true); err != nil {
		return nil, err
	}
	a.log(ctx).Warn("publish: job failed", "jobId", j.JobID, "reason", je.Reason, "code", je.Code, "subcode", je.Subcode, "fbtrace_id", je.FBTraceID, "threadsMessage", je.Message)
	return &Result{State: Done, Job: j}, nil
}

func (a *attempt) save(ctx context.Context, release bool) error {
	if err := a.Store.UpdateJob(ctx, a.job, a.owner, a.now(), release); err != nil {
		return err
	}
	return nil
}

func (a *attempt) release(ctx context.Context) {
	if err := a.Store.UpdateJob(context.WithoutCancel(ctx), a.job, a.owner, a.now(), true); err != nil && !errors.Is(err, store.ErrLeaseLost) {
		a.log(ctx).Warn("publish: could not release the job", "jobId", a.job.JobID, "error", err.Error())
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
