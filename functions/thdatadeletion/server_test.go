package thdatadeletion_test

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"threadsfunctions.dev/functions/thdatadeletion"
	"threadsfunctions.dev/shared/app"
	"threadsfunctions.dev/shared/logging"
	"threadsfunctions.dev/shared/publish"
	"threadsfunctions.dev/shared/signedrequest"
	"threadsfunctions.dev/shared/store"
	"threadsfunctions.dev/shared/testenv"
	"threadsfunctions.dev/shared/testenv/apicheck"
)

const secret = "APP-SECRET-deletion"

type harness struct {
	t     *testing.T
	env   testenv.Env
	srv   *httptest.Server
	store *store.Store
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	e := testenv.Require(t)
	opts := thdatadeletion.Options
	opts.Lookup = e.Lookup(map[string]string{
		"THREADS_APP_SECRET":       secret,
		"DATA_DELETION_STATUS_URL": "https://fn.example.com/thDataDeletion",
	})
	opts.Logger = logging.New(io.Discard, slog.LevelInfo)
	srv := httptest.NewServer(apicheck.Handler(t, thdatadeletion.Name, app.Lazy(thdatadeletion.Name, opts, thdatadeletion.NewHandler)))
	t.Cleanup(srv.Close)
	keyring, _ := testenv.Keyring(t, "k1")
	return &harness{t: t, env: e, srv: srv, store: store.New(e.Firestore(t), keyring)}
}

func (h *harness) connectWithJobs(uid, threadsID string, jobs int) {
	h.t.Helper()
	now := time.Now()
	if err := h.store.SaveAccount(h.t.Context(), uid, store.Account{AccountID: threadsID, ExpiresAt: now.Add(50 * 24 * time.Hour),
		TokenIssuedAt: now, UpdatedAt: now, Status: store.StatusActive, Extra: store.Extra{ThreadsUserID: threadsID}}, "TOKEN"); err != nil {
		h.t.Fatal(err)
	}
	req := publish.Request{Text: "x"}
	b, _ := json.Marshal(req)
	for i := range jobs {
		if _, _, err := h.store.CreateJob(h.t.Context(), &store.Job{JobID: fmt.Sprint("job-", i), UID: uid, AccountID: threadsID,
			Status: store.JobPublished, Kind: "TEXT", Request: string(b), CreatedAt: now}); err != nil {
			h.t.Fatal(err)
		}
	}
}

func (h *harness) countDocs(uid, threadsID string) (accounts, jobs int) {
	h.t.Helper()
	fs := h.env.Firestore(h.t)
	if _, err := h.store.GetAccount(h.t.Context(), uid, threadsID); err == nil {
		accounts = 1
	}
	docs, err := fs.Collection(store.AccountPath(uid, threadsID) + "/jobs").Documents(h.t.Context()).GetAll()
	if err != nil {
		h.t.Fatal(err)
	}
	return accounts, len(docs)
}

func (h *harness) post(signed string) (int, thdatadeletion.Answer, string) {
	h.t.Helper()
	resp, err := http.PostForm(h.srv.URL, url.Values{"signed_request": {signed}})
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var a thdatadeletion.Answer
	_ = json.Unmarshal(b, &a)
	return resp.StatusCode, a, string(b)
}

func (h *harness) statusPage(code string) (int, string) {
	h.t.Helper()
	resp, err := http.Get(h.srv.URL + "?" + url.Values{"code": {code}}.Encode())
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func newThreadsID() string { return fmt.Sprintf("1784%013d", time.Now().UnixNano()%1e13) }

func TestDeletionRemovesEverythingAndReportsDone(t *testing.T) {
	h := newHarness(t)
	threadsID := newThreadsID()
	alice, bob := "uid-a-"+testenv.RandomID(t), "uid-b-"+testenv.RandomID(t)
	h.connectWithJobs(alice, threadsID, 450) // more than one delete batch
	h.connectWithJobs(bob, threadsID, 3)
	h.connectWithJobs(alice, "17841400000000888", 2) // someone else's data stays

	signed, _ := signedrequest.Sign(map[string]any{"algorithm": "HMAC-SHA256", "user_id": threadsID, "issued_at": time.Now().Unix()}, []byte(secret))
	code, ans, body := h.post(signed)
	if code != 200 || ans.ConfirmationCode == "" || ans.URL != "https://fn.example.com/thDataDeletion?code="+ans.ConfirmationCode {
		t.Fatalf("answer %d %s", code, body)
	}
	for _, uid := range []string{alice, bob} {
		if a, j := h.countDocs(uid, threadsID); a+j != 0 {
			t.Errorf("%s: %d account and %d job documents left", uid, a, j)
		}
	}
	if a, j := h.countDocs(alice, "17841400000000888"); a != 1 || j != 2 {
		t.Errorf("another Threads user's data touched: %d accounts, %d jobs", a, j)
	}
	status, page := h.statusPage(ans.ConfirmationCode)
	if status != 200 || !strings.Contains(page, `data-status="done"`) {
		t.Errorf("status page %d: %s", status, page)
	}
	// Meta calling again with the same request gets the same code.
	if _, again, _ := h.post(signed); again.ConfirmationCode != ans.ConfirmationCode {
		t.Errorf("repeat gave code %q, want %q", again.ConfirmationCode, ans.ConfirmationCode)
	}
	for _, c := range []string{"no-such-code", ""} {
		if status, page := h.statusPage(c); status != 404 || !strings.Contains(page, `data-status="unknown"`) {
			t.Errorf("unknown code %q: %d", c, status)
		}
	}
}

// A deletion interrupted half-way (request recorded, part of the data
// deleted) completes when the callback is retried, under the same code.
func TestInterruptedDeletionCompletesOnRetry(t *testing.T) {
	h := newHarness(t)
	threadsID := newThreadsID()
	alice, bob := "uid-a-"+testenv.RandomID(t), "uid-b-"+testenv.RandomID(t)
	h.connectWithJobs(alice, threadsID, 5)
	h.connectWithJobs(bob, threadsID, 5)
	issued := time.Now().Add(-time.Minute)

	// What an attempt that died after deleting alice's data left behind.
	sum := sha256.Sum256([]byte(threadsID + "|" + strconv.FormatInt(issued.Unix(), 10)))
	started, err := h.store.StartDeletion(t.Context(), hex.EncodeToString(sum[:]), "code-interrupted-"+testenv.RandomID(t), threadsID, issued)
	if err != nil {
		t.Fatal(err)
	}
	if err := h.store.DeleteAccountData(t.Context(), alice, threadsID); err != nil {
		t.Fatal(err)
	}
	if status, page := h.statusPage(started.Code); status != 200 || !strings.Contains(page, `data-status="in_progress"`) {
		t.Fatalf("status while interrupted: %d %s", status, page)
	}

	signed, _ := signedrequest.Sign(map[string]any{"algorithm": "HMAC-SHA256", "user_id": threadsID, "issued_at": issued.Unix()}, []byte(secret))
	code, ans, body := h.post(signed)
	if code != 200 || ans.ConfirmationCode != started.Code {
		t.Fatalf("retry: %d %s, want code %s", code, body, started.Code)
	}
	if a, j := h.countDocs(bob, threadsID); a+j != 0 {
		t.Errorf("bob's data left: %d account, %d jobs", a, j)
	}
	if _, page := h.statusPage(started.Code); !strings.Contains(page, `data-status="done"`) {
		t.Errorf("status after retry: %s", page)
	}
}

func TestRefusedRequestDeletesNothing(t *testing.T) {
	h := newHarness(t)
	threadsID := newThreadsID()
	uid := "uid-" + testenv.RandomID(t)
	h.connectWithJobs(uid, threadsID, 1)
	forged, _ := signedrequest.Sign(map[string]any{"algorithm": "HMAC-SHA256", "user_id": threadsID, "issued_at": time.Now().Unix()}, []byte("wrong"))
	if code, _, body := h.post(forged); code != 400 || !strings.Contains(body, signedrequest.CodeBadSig) {
		t.Errorf("forged: %d %s", code, body)
	}
	if a, j := h.countDocs(uid, threadsID); a != 1 || j != 1 {
		t.Errorf("data deleted by a refused request: %d, %d", a, j)
	}
}
