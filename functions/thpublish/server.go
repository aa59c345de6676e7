package thpublish

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"threadsfunctions.dev/shared/auth"
	"threadsfunctions.dev/shared/httpx"
	"threadsfunctions.dev/shared/logging"
	"threadsfunctions.dev/shared/publish"
	"threadsfunctions.dev/shared/store"
	"threadsfunctions.dev/shared/tasks"
	"threadsfunctions.dev/shared/tokens"
)

// Error codes of thPublish besides validation's (publish.Code*).
const (
	CodeMissingAccount      = "missing_account"
	CodeAccountNotFound     = "account_not_found"
	CodeNoAccount           = "no_account"
	CodeReauthRequired      = "reauth_required"
	CodeQuotaExceeded       = "quota_exceeded"
	CodeIdempotencyConflict = "idempotency_key_reused"
	CodeMediaFailed         = "media_failed"
	CodeThreadsRejected     = "threads_rejected"
	CodeTaskUnauthorized    = "task_unauthorized"
	CodeInvalidTask         = "invalid_task"
	CodeJobCancelled        = "job_cancelled"
	CodeChainInterrupted    = "chain_interrupted"
	CodeFeatureDisabled     = "feature_disabled"
	CodeJobNotFound         = "job_not_found"
	CodeJobStarted          = "job_started"
	CodeInvalidJobID        = "invalid_job_id"
)

// ReasonCancelledByOwner is the reason recorded on a job its owner cancelled.
const ReasonCancelledByOwner = "cancelled_by_owner"

const (
	maxBody = 64 << 10
	// userBudget is how long a user's request may wait on Threads (media
	// processing) before answering 202 and continuing through a task.
	userBudget = 20 * time.Second
	// taskBudget is a task delivery's (Cloud Tasks waits up to 10 minutes by default).
	taskBudget = 60 * time.Second
	// sweepGrace is how late a job must be before the sweep hands it on:
	// Cloud Tasks delivers a little after a task's time, and an attempt may
	// be writing as its lease runs out. The sweep also ends, that late, the
	// lease a cancel kept for an attempt publishing the job: that relies,
	// as every lease does, on the function's timeout (120 s, Terraform) not
	// outlasting publish.DefaultLease, so that the attempt has ended by then.
	sweepGrace = time.Minute
	// sweepLimit bounds the jobs one sweep hands on (the next takes the rest),
	// sweepWorkers the tasks it creates at a time.
	sweepLimit, sweepWorkers = 500, 8
)

// TaskVerifier authenticates Cloud Tasks deliveries (the OIDC token).
type TaskVerifier interface {
	Verify(ctx context.Context, r *http.Request) error
}

// Enqueuer schedules a delivery of body to thPublish at a time. A second
// enqueue with the same id is a no-op.
type Enqueuer interface {
	Enqueue(ctx context.Context, id string, body []byte, at time.Time) error
}

// Server handles thPublish requests: users' publishes and Cloud Tasks' retries.
type Server struct {
	Verifier     auth.Verifier
	TaskVerifier TaskVerifier
	Store        *store.Store
	Engine       *publish.Engine
	Tasks        Enqueuer
	Now          func() time.Time
	// UserBudget and TaskBudget override the defaults (tests).
	UserBudget, TaskBudget time.Duration
	// GIFs accepts the gif field (THREADS_GIF_ATTACHMENTS).
	GIFs bool
}

func (s *Server) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// TaskBody is what a Cloud Task delivers.
type TaskBody struct {
	UID       string `json:"uid"`
	AccountID string `json:"accountId"`
	JobID     string `json:"jobId"`
}

// Answer is thPublish's success answer.
type Answer struct {
	OK    bool   `json:"ok"`
	ID    string `json:"id,omitempty"`
	JobID string `json:"jobId"`
	// AccountID is the job's account (users' answers only), so an app that
	// let the account be picked can find the job's document.
	AccountID string `json:"accountId,omitempty"`
	// IDs are a reply chain's media ids, in order (published parts only).
	IDs       []string `json:"ids,omitempty"`
	Status    string   `json:"status"`
	PublishAt string   `json:"publishAt,omitempty"`
}

// Handle routes a request: DELETE is a user cancelling a scheduled job;
// a POST with ?sweep=1 is Cloud Scheduler's call for the sweep, and one
// with X-CloudTasks-* headers a Cloud Tasks delivery, both of which must
// prove themselves with the task invoker's OIDC token; any other POST is a
// user's publish, with a Firebase ID token.
func (s *Server) Handle(w http.ResponseWriter, r *http.Request) error {
	if r.Method == http.MethodDelete {
		return s.handleCancel(w, r)
	}
	if r.URL.Query().Has("sweep") {
		return s.handleSweep(w, r)
	}
	if r.Header.Get("X-CloudTasks-QueueName") != "" || r.Header.Get("X-CloudTasks-TaskName") != "" {
		return s.handleTask(w, r)
	}
	return s.handleUser(w, r)
}

func (s *Server) handleUser(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	user, err := s.Verifier.Verify(ctx, r)
	if err != nil {
		return err
	}
	var req publish.Request
	if err := httpx.DecodeJSON(r, &req, maxBody, false); err != nil {
		return err
	}
	if h := r.Header.Get("Idempotency-Key"); h != "" {
		if req.IdempotencyKey != "" && req.IdempotencyKey != h {
			return httpx.Errorf(http.StatusBadRequest, publish.CodeConflictingFields, "the Idempotency-Key header and idempotencyKey field differ")
		}
		req.IdempotencyKey = h
	}
	texts, err := req.Check()
	if err != nil {
		return err
	}
	if req.GIF != nil && !s.GIFs {
		return httpx.Errorf(http.StatusBadRequest, CodeFeatureDisabled, "gif is turned off in this deployment (THREADS_GIF_ATTACHMENTS)")
	}
	publishAt, err := req.ScheduledAt(s.now())
	if err != nil {
		return s.orRepeat(ctx, w, user.UID, &req, err)
	}
	acct, err := s.account(ctx, user.UID, req.AccountID)
	if err != nil {
		return s.orRepeat(ctx, w, user.UID, &req, err)
	}

	jobID := publish.JobIDFor(user.UID, req.IdempotencyKey)
	if req.IdempotencyKey == "" {
		jobID = randomJobID()
	}
	reqJSON, err := json.Marshal(req)
	if err != nil {
		return err
	}
	hash := req.Hash()
	now := s.now().UTC()
	newJob := &store.Job{
		JobID: jobID, UID: user.UID, AccountID: acct.AccountID, Status: store.JobAccepted,
		Kind: string(req.Kind()), Request: string(reqJSON), RequestHash: hash,
		CreatedAt: now, UpdatedAt: now, PublishAt: publishAt,
	}
	if !publishAt.IsZero() {
		newJob.Status = store.JobScheduled
	} else {
		// Created already claimed by this request: its first attempt
		// starts at once, without a claim.
		newJob.LeaseOwner, newJob.LeaseUntil = s.Engine.NewClaim(now)
		newJob.Attempts = 1
	}
	newJob.Text = req.Text
	for i, t := range texts {
		if i == 0 {
			newJob.Text = t
		}
		newJob.Parts = append(newJob.Parts, store.JobPart{Text: t, Status: store.PartPending})
	}
	// A post due now is stored and attempted at once (its first attempt
	// needs no claim); should this instance die mid-attempt, the job stays
	// due by its lease's end and the sweep hands it to Cloud Tasks then.
	var (
		res     *publish.Result
		job     *store.Job
		created bool
	)
	if newJob.Status == store.JobScheduled {
		job, created, err = s.Store.CreateJob(ctx, newJob)
	} else {
		res, job, created, err = s.Engine.Start(ctx, newJob, acct, budget(s.UserBudget, userBudget))
	}
	switch {
	case errors.Is(err, store.ErrAccountGone):
		// Disconnected (or its data deleted) since it was read: no job.
		return s.orRepeat(ctx, w, user.UID, &req, s.noSuchAccount(ctx, user.UID))
	case err != nil && !created:
		return httpx.Wrap(err, http.StatusServiceUnavailable, httpx.CodeServiceUnavailable, "could not record the publish job; try again")
	}
	if !created && job.RequestHash != hash {
		return httpx.Errorf(http.StatusUnprocessableEntity, CodeIdempotencyConflict,
			"this idempotency key was used for a different request")
	}
	return s.carryOn(ctx, w, job, created, res, err)
}

// orRepeat answers a request refused by a check of the present (publishAt
// now past, the account since needing reauth) from the job it repeats, if
// its idempotency key names one made by the same request: a repeat gets
// the first request's result, whatever changed since. Otherwise the request
// is refused. The job is looked for only on this refusal path, and not when
// the check itself could not be made (a 5xx, Firestore failing): a second
// read would only double the caller's wait for the same 503.
func (s *Server) orRepeat(ctx context.Context, w http.ResponseWriter, uid string, req *publish.Request, refused error) error {
	var he *httpx.Error
	if req.IdempotencyKey == "" || (errors.As(refused, &he) && he.Status >= 500) {
		return refused
	}
	// Firestore failing here is no answer about the job: 503, so that the
	// caller tries again rather than take the refusal as final.
	var accountIDs []string
	if req.AccountID != "" {
		accountIDs = []string{req.AccountID}
	} else {
		// The first request named no account either: it went to the
		// user's only account then, which may have company since.
		accts, err := s.Store.ListAccounts(ctx, uid)
		if err != nil {
			return accountsUnavailable(err)
		}
		for _, a := range accts {
			accountIDs = append(accountIDs, a.AccountID)
		}
	}
	jobs, err := s.Store.FindJobs(ctx, uid, accountIDs, publish.JobIDFor(uid, req.IdempotencyKey))
	if err != nil {
		return httpx.Wrap(err, http.StatusServiceUnavailable, httpx.CodeServiceUnavailable, "could not read the publish job; try again")
	}
	hash := req.Hash()
	for _, job := range jobs {
		if job.RequestHash == hash {
			return s.carryOn(ctx, w, job, false, nil, nil)
		}
	}
	return refused
}

// carryOn answers a user's request for its job: a new one (created, with
// its first attempt's outcome res or err) or an existing one, which is
// attempted again unless it has ended.
func (s *Server) carryOn(ctx context.Context, w http.ResponseWriter, job *store.Job, created bool, res *publish.Result, err error) error {
	uid, accountID, jobID := job.UID, job.AccountID, job.JobID
	log := logging.FromContext(ctx).With("jobId", jobID, "accountId", accountID)
	log.Info("publish: request", "kind", job.Kind, "repeat", !created, "parts", len(job.Parts), "scheduled", !job.PublishAt.IsZero())
	if job.Status == store.JobScheduled {
		return s.schedule(ctx, w, job, created)
	}

	if !created {
		res, err = s.Engine.RunRequest(ctx, uid, accountID, jobID, budget(s.UserBudget, userBudget))
	}
	if err != nil {
		return s.deferAfterError(ctx, w, uid, accountID, jobID, err)
	}
	switch {
	case res.State == publish.Done:
		return answerDone(w, res.Job)
	case res.State == publish.QuotaExceeded && res.Job.Status.Terminal():
		w.Header().Set("Retry-After", strconv.Itoa(int(res.RetryAfter.Seconds())))
		httpx.WriteJSON(w, http.StatusTooManyRequests, failedAnswer{OK: false, JobID: jobID, AccountID: accountID, Status: string(res.Job.Status),
			IDs: partIDs(res.Job), Error: httpx.ErrorDetail{Code: CodeQuotaExceeded, Message: fmt.Sprintf(
				"the account's publishing quota is spent; nothing was posted; it frees up within %s (at %s at the latest)",
				res.RetryAfter.Round(time.Minute), s.now().Add(res.RetryAfter).Format(time.RFC3339))}})
		return nil
	case res.State == publish.Busy:
		// Another attempt (a task, or an earlier request) is working on it.
		httpx.WriteJSON(w, http.StatusAccepted, Answer{OK: true, JobID: jobID, AccountID: accountID, Status: "pending"})
		return nil
	default:
		// Waiting, Retry, or the quota spent for a job that may have posted
		// already (a publish call unsettled, a chain part out): on through
		// Cloud Tasks (once the quota frees up), the user told it is
		// pending, not refused.
		if err := s.enqueue(ctx, res, uid, accountID); err != nil {
			return httpx.Wrap(err, http.StatusServiceUnavailable, httpx.CodeServiceUnavailable,
				"the post could not be scheduled for a retry; send the request again with the same idempotency key")
		}
		httpx.WriteJSON(w, http.StatusAccepted, Answer{OK: true, JobID: jobID, AccountID: accountID, Status: "pending"})
		return nil
	}
}

// schedule makes sure a scheduled job has its task (a repeated request
// re-creates it: the same task name, so never twice) and answers 202.
func (s *Server) schedule(ctx context.Context, w http.ResponseWriter, job *store.Job, created bool) error {
	tb := TaskBody{UID: job.UID, AccountID: job.AccountID, JobID: job.JobID}
	if err := s.enqueueID(ctx, taskID(job.JobID, job.AccountID, "at"), tb, job.PublishAt); err != nil {
		if created {
			// Without its task the job would never run: withdraw it (delete
			// it, untouched since its creation), so that the caller's retry
			// with the same key, or a new request, starts afresh. A job
			// cancelled instead would answer that retry 409 job_cancelled.
			if _, werr := s.Store.WithdrawJob(context.WithoutCancel(ctx), job); werr != nil {
				// Not withdrawn: cancel it rather than leave it scheduled
				// (the sweep would post it, after this 503 "try again").
				err = errors.Join(err, werr)
				if _, cerr := s.Store.CancelJob(context.WithoutCancel(ctx), job.UID, job.AccountID, job.JobID, "not_scheduled", s.now()); cerr != nil {
					err = errors.Join(err, cerr)
				}
			}
		}
		return httpx.Wrap(err, http.StatusServiceUnavailable, httpx.CodeServiceUnavailable, "the post could not be scheduled; try again")
	}
	if !created {
		// The request that created the job may be withdrawing it (its own
		// enqueue failed): move the job on, so that the withdrawal fails,
		// or find it gone and have this request tried again afresh.
		if err := s.Store.TouchJob(ctx, job, s.now()); err != nil {
			return httpx.Wrap(err, http.StatusServiceUnavailable, httpx.CodeServiceUnavailable, "the post could not be scheduled; try again")
		}
	}
	httpx.WriteJSON(w, http.StatusAccepted, Answer{OK: true, JobID: job.JobID, AccountID: job.AccountID, Status: string(store.JobScheduled),
		PublishAt: job.PublishAt.UTC().Format(time.RFC3339)})
	return nil
}

// deferAfterError handles an attempt that failed outside Threads (Firestore
// unreachable, a lost lease): the job is handed to Cloud Tasks so it is not
// lost; if even that fails the caller is told to retry.
func (s *Server) deferAfterError(ctx context.Context, w http.ResponseWriter, uid, accountID, jobID string, cause error) error {
	logging.FromContext(ctx).Warn("publish: attempt failed; handing the job to a task", "jobId", jobID, "error", cause.Error())
	// The failed attempt's number is not known here: the task is named after
	// this hand-over's time, so that a later one for the same job is not
	// taken for a repeat of this one (a no-op). Enqueued even if the caller
	// went away (the likely cause of a cancelled attempt), so that the job
	// goes on now rather than when the sweep finds it overdue.
	id := taskID(jobID, accountID, fmt.Sprintf("d%d", s.now().UnixNano()))
	tb := TaskBody{UID: uid, AccountID: accountID, JobID: jobID}
	if err := s.enqueueID(context.WithoutCancel(ctx), id, tb, s.now().Add(s.Engine.TransientWait())); err != nil {
		return httpx.Wrap(errors.Join(cause, err), http.StatusServiceUnavailable, httpx.CodeServiceUnavailable,
			"the post could not be processed now; send the request again with the same idempotency key")
	}
	httpx.WriteJSON(w, http.StatusAccepted, Answer{OK: true, JobID: jobID, AccountID: accountID, Status: "pending"})
	return nil
}

func (s *Server) enqueue(ctx context.Context, res *publish.Result, uid, accountID string) error {
	// One task per attempt: a repeated enqueue by the same attempt is a no-op.
	id := taskID(res.Job.JobID, accountID, fmt.Sprintf("a%d", res.Attempt))
	return s.enqueueID(ctx, id, TaskBody{UID: uid, AccountID: accountID, JobID: res.Job.JobID}, s.now().Add(res.RetryAfter))
}

// taskID names a job's task: the job, its account (an idempotency key used
// for two accounts makes two jobs of the same id, one under each), and what
// the task is for (at: a scheduled post's time; a<n>: attempt n's follow-up;
// d<ns>: a hand-over after an error; sweep-<ms>: the sweep's, for a dueBy).
// The same name twice is one task.
func taskID(jobID, accountID, what string) string {
	return jobID + "-" + accountID + "-" + what
}

func (s *Server) enqueueID(ctx context.Context, id string, tb TaskBody, at time.Time) error {
	body, err := json.Marshal(tb)
	if err != nil {
		return err
	}
	return s.Tasks.Enqueue(ctx, id, body, at)
}

// account picks the account to publish with.
func (s *Server) account(ctx context.Context, uid, accountID string) (*store.Account, error) {
	var (
		acct *store.Account
		err  error
	)
	if accountID == "" {
		acct, err = s.onlyAccount(ctx, uid)
	} else {
		// The one account named: a document read, not the user's whole list.
		acct, err = s.Store.GetAccount(ctx, uid, accountID)
		switch {
		case errors.Is(err, store.ErrNotFound):
			err = s.noSuchAccount(ctx, uid)
		case err != nil:
			err = accountsUnavailable(err)
		}
	}
	if err != nil {
		return nil, err
	}
	// A revoked account (Meta's deauthorize callback) has no token left; one
	// that needs reauth has a token Threads refuses. Neither gets a job.
	if acct.Status == store.StatusNeedsReauth || acct.Status == store.StatusRevoked || tokens.Expired(acct, s.now()) {
		return nil, httpx.Errorf(http.StatusConflict, CodeReauthRequired, "the Threads account must be connected again")
	}
	return acct, nil
}

// onlyAccount is the user's account when no accountId names one: the only
// one connected (no_account without any, missing_account with several).
func (s *Server) onlyAccount(ctx context.Context, uid string) (*store.Account, error) {
	accounts, err := s.Store.ListAccounts(ctx, uid)
	switch {
	case err != nil:
		return nil, accountsUnavailable(err)
	case len(accounts) == 0:
		return nil, noAccount()
	case len(accounts) > 1:
		return nil, httpx.Errorf(http.StatusBadRequest, CodeMissingAccount, "several Threads accounts are connected: say which with accountId")
	}
	return accounts[0], nil
}

func noAccount() error {
	return httpx.Errorf(http.StatusNotFound, CodeNoAccount, "no Threads account is connected")
}

// accountsUnavailable is the answer when the accounts could not be read.
func accountsUnavailable(err error) error {
	return httpx.Wrap(err, http.StatusServiceUnavailable, httpx.CodeServiceUnavailable, "could not read the connected accounts")
}

// noSuchAccount is the answer for an accountId the user has not connected:
// no_account when the user has none at all (as without accountId),
// account_not_found otherwise.
func (s *Server) noSuchAccount(ctx context.Context, uid string) error {
	accounts, err := s.Store.ListAccounts(ctx, uid)
	switch {
	case err != nil:
		return accountsUnavailable(err)
	case len(accounts) == 0:
		return noAccount()
	}
	return httpx.Errorf(http.StatusNotFound, CodeAccountNotFound, "no connected Threads account has this accountId")
}

// partIDs lists the media ids of a chain's published parts.
func partIDs(j *store.Job) []string {
	var ids []string
	for _, p := range j.Parts {
		if p.Status == string(store.JobPublished) {
			ids = append(ids, p.MediaID)
		}
	}
	return ids
}

func answerDone(w http.ResponseWriter, j *store.Job) error {
	if j.Status == store.JobPublished {
		httpx.WriteJSON(w, http.StatusOK, Answer{OK: true, ID: j.MediaID, IDs: partIDs(j), JobID: j.JobID, AccountID: j.AccountID, Status: string(j.Status)})
		return nil
	}
	je := j.Error
	if je == nil {
		je = &store.JobError{Reason: publish.ReasonInvalidJob, Message: "the job failed"}
	}
	status, code := http.StatusUnprocessableEntity, CodeThreadsRejected
	if j.Status == store.JobCancelled {
		status = http.StatusConflict
		code = CodeJobCancelled
	}
	switch je.Reason {
	case publish.ReasonReauthRequired:
		status, code = http.StatusConflict, CodeReauthRequired
	case publish.ReasonMediaFailed:
		code = CodeMediaFailed
	case publish.ReasonQuotaExceeded:
		code = CodeQuotaExceeded
	case publish.ReasonChainBroken:
		code = CodeChainInterrupted
	case publish.ReasonInvalidJob:
		status, code = http.StatusInternalServerError, httpx.CodeInternal
	}
	httpx.WriteJSON(w, status, failedAnswer{OK: false, JobID: j.JobID, AccountID: j.AccountID, Status: string(j.Status), IDs: partIDs(j),
		Error: httpx.ErrorDetail{Code: code, Message: je.Message}})
	return nil
}

type failedAnswer struct {
	OK        bool   `json:"ok"`
	JobID     string `json:"jobId"`
	AccountID string `json:"accountId,omitempty"`
	Status    string `json:"status"`
	// IDs are the media ids of a chain's parts published before it failed.
	IDs   []string          `json:"ids,omitempty"`
	Error httpx.ErrorDetail `json:"error"`
}

// handleTask runs a job for a Cloud Tasks delivery. 2xx stops Cloud Tasks
// (done, failed for good, or a follow-up task scheduled); 503 with
// Retry-After makes it retry with its backoff.
func (s *Server) handleTask(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	if err := s.verifyTask(r); err != nil {
		return err
	}
	var tb TaskBody
	if err := httpx.DecodeJSON(r, &tb, maxBody, false); err != nil {
		return err
	}
	if tb.UID == "" || tb.AccountID == "" || tb.JobID == "" {
		// Retrying cannot fix it: answer 2xx-free but final? Cloud Tasks retries
		// any non-2xx, so a malformed task is acknowledged and logged.
		logging.FromContext(ctx).Error("publish: malformed task body")
		httpx.WriteJSON(w, http.StatusOK, httpx.ErrorBody{Error: httpx.ErrorDetail{Code: CodeInvalidTask, Message: "task body lacks uid, accountId or jobId"}})
		return nil
	}
	log := logging.FromContext(ctx).With("jobId", tb.JobID, "accountId", tb.AccountID,
		"taskRetry", r.Header.Get("X-CloudTasks-TaskRetryCount"))
	res, err := s.Engine.Run(ctx, tb.UID, tb.AccountID, tb.JobID, budget(s.TaskBudget, taskBudget))
	if errors.Is(err, store.ErrNotFound) {
		log.Warn("publish: task for a job that does not exist; dropping it")
		httpx.WriteJSON(w, http.StatusOK, Answer{OK: true, JobID: tb.JobID, Status: "missing"})
		return nil
	}
	if err != nil {
		log.Warn("publish: task attempt failed; Cloud Tasks will retry", "error", err.Error())
		w.Header().Set("Retry-After", strconv.Itoa(int(publish.TransientRetry.Seconds())))
		return httpx.Wrap(err, http.StatusServiceUnavailable, httpx.CodeServiceUnavailable, "attempt failed; retry")
	}
	switch res.State {
	case publish.Done:
		httpx.WriteJSON(w, http.StatusOK, Answer{OK: true, ID: res.Job.MediaID, JobID: tb.JobID, Status: string(res.Job.Status)})
		return nil
	case publish.Waiting, publish.QuotaExceeded, publish.Scheduled:
		// Not a failure: look again later through a new, delayed task.
		if err := s.enqueue(ctx, res, tb.UID, tb.AccountID); err != nil {
			w.Header().Set("Retry-After", strconv.Itoa(int(publish.TransientRetry.Seconds())))
			return httpx.Wrap(err, http.StatusServiceUnavailable, httpx.CodeServiceUnavailable, "could not schedule the follow-up")
		}
		st := "pending"
		if res.State == publish.Scheduled {
			st = string(store.JobScheduled)
		}
		httpx.WriteJSON(w, http.StatusOK, Answer{OK: true, JobID: tb.JobID, Status: st})
		return nil
	default: // Retry, Busy
		w.Header().Set("Retry-After", strconv.Itoa(max(1, int(res.RetryAfter.Seconds()))))
		httpx.WriteJSON(w, http.StatusServiceUnavailable, failedAnswer{OK: false, JobID: tb.JobID, Status: string(res.Job.Status),
			Error: httpx.ErrorDetail{Code: httpx.CodeServiceUnavailable, Message: "not done yet; retry"}})
		return nil
	}
}

// verifyTask checks the OIDC token of a Cloud Tasks delivery or of Cloud
// Scheduler's sweep call: both come as the task invoker, for thPublish.
func (s *Server) verifyTask(r *http.Request) error {
	ctx := r.Context()
	if s.TaskVerifier == nil {
		return httpx.Errorf(http.StatusUnauthorized, CodeTaskUnauthorized, "task deliveries are not configured")
	}
	if err := s.TaskVerifier.Verify(ctx, r); err != nil {
		return tasks.Refusal(ctx, err, CodeTaskUnauthorized, "the task delivery's OIDC token is not valid")
	}
	return nil
}

// SweepAnswer is the sweep's answer: how many overdue jobs it found, handed
// to Cloud Tasks, and found ended but still due (cleared).
type SweepAnswer struct {
	OK       bool `json:"ok"`
	Overdue  int  `json:"overdue"`
	Enqueued int  `json:"enqueued"`
	Cleared  int  `json:"cleared"`
}

// handleSweep hands to Cloud Tasks the jobs nobody is going to take up:
// those overdue by their dueBy (an attempt whose instance died and whose
// lease ran out, a follow-up task that could not be created or that Cloud
// Tasks gave up on). Cloud Scheduler calls it every minute. Each job gets a
// task named after the dueBy it missed, so sweeps that find it again before
// that task has run create nothing more; the delivery claims the job as any
// other does, so a job is never attempted twice at once.
func (s *Server) handleSweep(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	if err := s.verifyTask(r); err != nil {
		return err
	}
	now := s.now()
	jobs, err := s.Store.OverdueJobs(ctx, now.Add(-sweepGrace), sweepLimit)
	if err != nil {
		return httpx.Wrap(err, http.StatusServiceUnavailable, httpx.CodeServiceUnavailable, "could not list the overdue jobs")
	}
	var (
		mu   sync.Mutex
		ans  = SweepAnswer{OK: true, Overdue: len(jobs)}
		errs []error
		g    errgroup.Group
	)
	g.SetLimit(sweepWorkers)
	for _, j := range jobs {
		g.Go(func() error {
			enqueued, cleared, err := s.sweepJob(ctx, j, now)
			mu.Lock()
			defer mu.Unlock()
			ans.Enqueued += enqueued
			ans.Cleared += cleared
			if err != nil {
				errs = append(errs, fmt.Errorf("job %s: %w", j.JobID, err))
			}
			return nil // every job is tried; errs holds them all
		})
	}
	_ = g.Wait()
	log := logging.FromContext(ctx)
	if err := errors.Join(errs...); err != nil {
		log.Warn("publish: sweep incomplete", "overdue", ans.Overdue, "enqueued", ans.Enqueued, "cleared", ans.Cleared, "error", err.Error())
		return httpx.Wrap(err, http.StatusServiceUnavailable, httpx.CodeServiceUnavailable,
			fmt.Sprintf("%d of %d overdue jobs could not be handed on; the next sweep tries again", len(errs), ans.Overdue))
	}
	if ans.Overdue > 0 {
		log.Info("publish: sweep", "overdue", ans.Overdue, "enqueued", ans.Enqueued, "cleared", ans.Cleared)
	}
	httpx.WriteJSON(w, http.StatusOK, ans)
	return nil
}

// sweepJob hands one overdue job to Cloud Tasks, or clears the dueBy of one
// that has ended (and the lease a cancel kept on it, which has run out).
func (s *Server) sweepJob(ctx context.Context, j *store.Job, now time.Time) (enqueued, cleared int, err error) {
	if j.Status.Terminal() {
		kept := j.LeaseOwner // a cancelled job's lease, kept for an attempt that was publishing it
		ok, err := s.Store.ClearDueBy(ctx, j, now)
		if ok {
			cleared = 1
			if kept != "" {
				logging.FromContext(ctx).Warn("publish: a job cancelled while it was being published was never settled by its attempt; its lease is given up, and whether the post went out is not known",
					"jobId", j.JobID, "accountId", j.AccountID)
			}
		}
		return 0, cleared, err
	}
	id := taskID(j.JobID, j.AccountID, fmt.Sprintf("sweep-%d", j.DueBy.UnixMilli()))
	if err := s.enqueueID(ctx, id, TaskBody{UID: j.UID, AccountID: j.AccountID, JobID: j.JobID}, now); err != nil {
		return 0, 0, err
	}
	return 1, 0, nil
}

// handleCancel cancels a scheduled job for its owner:
// DELETE ?jobId=...[&accountId=...].
func (s *Server) handleCancel(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	user, err := s.Verifier.Verify(ctx, r)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	jobID, accountID := q.Get("jobId"), q.Get("accountId")
	if !jobIDRe.MatchString(jobID) {
		return httpx.Errorf(http.StatusBadRequest, CodeInvalidJobID, "jobId is missing or is not a job id")
	}
	if accountID != "" && !store.ValidAccountID(accountID) {
		return httpx.Errorf(http.StatusBadRequest, publish.CodeInvalidID, "accountId is not a Threads id")
	}
	acctID, err := s.accountIDForCancel(ctx, user.UID, accountID)
	if err != nil {
		return err
	}
	j, err := s.Store.CancelJob(ctx, user.UID, acctID, jobID, ReasonCancelledByOwner, s.now().UTC())
	switch {
	case errors.Is(err, store.ErrNotFound):
		return httpx.Errorf(http.StatusNotFound, CodeJobNotFound, "no job of this account has this jobId")
	case errors.Is(err, store.ErrJobStarted):
		return httpx.Errorf(http.StatusConflict, CodeJobStarted, "the job is %s: only a scheduled job can be cancelled", j.Status)
	case err != nil:
		return httpx.Wrap(err, http.StatusServiceUnavailable, httpx.CodeServiceUnavailable, "could not cancel the job; try again")
	}
	logging.FromContext(ctx).Info("publish: job cancelled by its owner", "jobId", jobID, "accountId", acctID)
	httpx.WriteJSON(w, http.StatusOK, Answer{OK: true, JobID: jobID, Status: string(j.Status)})
	return nil
}

// accountIDForCancel names the account whose job is cancelled: the one
// given, or the user's only account. Unlike publishing, an account that
// needs re-authorization is fine.
func (s *Server) accountIDForCancel(ctx context.Context, uid, accountID string) (string, error) {
	if accountID != "" {
		return accountID, nil
	}
	a, err := s.onlyAccount(ctx, uid)
	if err != nil {
		return "", err
	}
	return a.AccountID, nil
}

var jobIDRe = regexp.MustCompile(`^[kr][0-9a-f]{32}$`)

func budget(override, def time.Duration) time.Duration {
	if override > 0 {
		return override
	}
	return def
}

func randomJobID() string {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		panic(fmt.Sprintf("crypto/rand: %v", err))
	}
	return "r" + hex.EncodeToString(b)
}
