package e2e

import (
	"context"
	"database/sql"
	"encoding/json"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
	"github.com/go-sql-driver/mysql"
	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/openstack/db/v1/instances"
)

// chromium returns the path of Debian's Chromium (scripts/install-deps
// installs it); without it the test fails.
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Fatal("chromium is not installed: run scripts/install-deps")
	return ""
}

// screenshotDir is where the browser tests save their screenshots:
// $HOARD_TEST_OUTPUT/dashboard if set (kept), a temporary directory
// otherwise.
func screenshotDir(t *testing.T) string {
	t.Helper()
	if out := os.Getenv("HOARD_TEST_OUTPUT"); out != "" {
		dir := filepath.Join(out, "dashboard")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		return dir
	}
	return t.TempDir()
}

// tab is one browser tab (in its own browser context: its own cookies)
// logged in to the dashboard of h.
type tab struct {
	t    *testing.T
	ctx  context.Context
	base string
	shot string // screenshot directory
}

func (b *tab) do(what string, steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		loc, _ := chromedp.Run(b.ctx, chromedp.Location())
		b.screenshot("failed-" + strings.ReplaceAll(what, " ", "-"))
		b.t.Fatalf("%s (at %s): %v", what, loc, err)
	}
}

// waitJS waits until the JavaScript expression is truthy and returns its
// value. It polls from here, with a deadline, so that a navigation between
// two polls (a form's redirect) is no error.
func waitJS[T any](b *tab, what, expr string, d time.Duration) T {
	b.t.Helper()
	deadline := time.Now().Add(d)
	var lastErr error
	for {
		ctx, cancel := context.WithTimeout(b.ctx, 5*time.Second)
		js, err := chromedp.Run(ctx, chromedp.Evaluate[string](`JSON.stringify((`+expr+`) || null)`))
		cancel()
		if err == nil && js != "null" {
			var v T
			if err := json.Unmarshal([]byte(js), &v); err != nil {
				b.t.Fatalf("waiting for %s: %s: %v", what, js, err)
			}
			return v
		}
		lastErr = err
		if time.Now().After(deadline) {
			loc, _ := chromedp.Run(b.ctx, chromedp.Location())
			body, _ := chromedp.Run(b.ctx, chromedp.Evaluate[string](`document.querySelector("main") ? document.querySelector("main").innerText : ""`))
			b.screenshot("failed-wait")
			b.t.Fatalf("waiting for %s (at %s): not within %s (last error %v)\npage:\n%s", what, loc, d, lastErr, body)
		}
		pollPause(100 * time.Millisecond)
	}
}

// submit clicks a form's button and waits for the page it leads to, which
// tells what happened in its flash notice.
func (b *tab) submit(what, button, flash string) {
	b.t.Helper()
	b.do(what, chromedp.Evaluate[chromedp.Void](`void (document.querySelector("#flash") && document.querySelector("#flash").remove())`),
		chromedp.Click(chromedp.CSS(button)))
	q, _ := json.Marshal(flash)
	waitJS[bool](b, what, `document.querySelector("#flash") && document.querySelector("#flash").textContent.includes(`+string(q)+`)`, 30*time.Second)
}

func (b *tab) text(sel string) string {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
	defer cancel()
	q, _ := json.Marshal(sel)
	s, err := chromedp.Run(ctx, chromedp.Evaluate[string](`(document.querySelector(`+string(q)+`) || {}).textContent || ""`))
	if err != nil {
		b.t.Fatalf("text of %s: %v", sel, err)
	}
	return s
}

func (b *tab) screenshot(name string) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		b.t.Logf("screenshot %s: %v", name, err)
		return
	}
	if err := os.WriteFile(filepath.Join(b.shot, name+".png"), png, 0o644); err != nil {
		b.t.Logf("screenshot %s: %v", name, err)
	}
}

// newTab opens a tab in a fresh browser context and logs in through the
// form, submitting it with the keyboard.
func newTab(t *testing.T, browser context.Context, base, shot, user, password, project string) *tab {
	t.Helper()
	ctx, cancel := chromedp.NewContext(browser, chromedp.WithNewBrowserContext())
	t.Cleanup(cancel)
	// The tab is created by the first action on its own context: one under
	// a timeout would close it when the timeout's context is cancelled.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("open a tab: %v", err)
	}
	b := &tab{t: t, ctx: ctx, base: base, shot: shot}
	b.do("log in as "+user,
		chromedp.Navigate(base+"/dashboard/"),
		chromedp.WaitVisible(chromedp.CSS("#user")),
		chromedp.SendKeys(chromedp.CSS("#user"), user),
		chromedp.SendKeys(chromedp.CSS("#project"), project),
		chromedp.SendKeys(chromedp.CSS("#password"), password+kb.Enter),
		chromedp.WaitVisible(chromedp.CSS("#logout")),
	)
	return b
}

// connectionURI waits for the instance page to show a mysql:// connection
// string for user and returns it.
func (b *tab) connectionURI(user string) *url.URL {
	b.t.Helper()
	s := waitJS[string](b, "the connection string of "+user,
		`Array.from(document.querySelectorAll("#connections code")).map(c => c.textContent).find(s => s.startsWith("mysql://`+user+`@")) || false`,
		30*time.Second)
	u, err := url.Parse(s)
	if err != nil {
		b.t.Fatalf("the connection string %q does not parse: %v", s, err)
	}
	return u
}

// dial opens the MariaDB connection named by a dashboard connection URI.
func dial(t *testing.T, u *url.URL, password string) *sql.DB {
	t.Helper()
	cfg := mysql.NewConfig()
	cfg.Net, cfg.Addr, cfg.User, cfg.Passwd = "tcp", u.Host, u.User.Username(), password
	cfg.DBName = strings.TrimPrefix(u.Path, "/")
	cfg.Timeout = 5 * time.Second
	db, err := sql.Open("mysql", cfg.FormatDSN())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// waitActive also waits for the page's own refresh of its lists, which an
// operation's end starts in the same step (app.js refresh): typing into a
// form it is about to replace would lose the node.
const waitActive = `document.querySelector("#status") && document.querySelector("#status").textContent === "ACTIVE" && !document.documentElement.dataset.refreshing`

// TestDashboard drives the web dashboard in Debian's Chromium against a
// real hoard with real MariaDB engines: log in, a bad form entry shows the
// API's fault next to its field, create an instance and watch it become
// ACTIVE without reloading, connect with the connection string it shows
// and write a row, restart it, create a database and a user, back it up,
// restore the backup into a new instance (the row is there), see that a
// user of another project sees none of it, and delete both.
func TestDashboard(t *testing.T) {
	exe := chromium(t)
	shot := screenshotDir(t)
	h := startHoard(t)
	base := "http://" + h.listen
	ctx := context.Background()
	admin := h.client(ctx)

	// A second project with a member of its own.
	proj := adminCall(t, admin, h, "POST", "/projects", map[string]any{"project": map[string]any{"name": "other", "domain_id": "default"}})
	projID := proj["project"].(map[string]any)["id"].(string)
	usr := adminCall(t, admin, h, "POST", "/users", map[string]any{"user": map[string]any{"name": "bob", "password": "bob-secret-1"}})
	adminCall(t, admin, h, "PUT", "/projects/"+projID+"/users/"+usr["user"].(map[string]any)["id"].(string)+"/roles/member", nil)

	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(exe),
		chromedp.NoSandbox, // the tests run as root, where Chromium's sandbox refuses to start
		chromedp.WindowSize(1200, 900),
	)
	alloc, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	defer cancelAlloc()
	browser, cancelBrowser := chromedp.NewContext(alloc)
	defer cancelBrowser()
	if err := chromedp.Do(browser); err != nil { // starts Chromium
		t.Fatalf("start chromium: %v", err)
	}

	b := newTab(t, browser, base, shot, "admin", adminPassword, "admin")
	if who := b.text("#whoami"); !strings.Contains(who, "admin") {
		t.Errorf("the header shows %q, want the user and project", who)
	}
	b.screenshot("01-instances-empty")

	// A bad form entry: the API's fault, next to the field.
	b.do("submit a too large volume",
		chromedp.Navigate(base+"/dashboard/instances/new"),
		chromedp.SendKeys(chromedp.CSS("#name"), "too-big"),
		chromedp.SetValue(chromedp.CSS("#volume"), "100000"),
		chromedp.Click(chromedp.CSS("#create-submit")),
		chromedp.WaitVisible(chromedp.CSS("#volume-error")),
	)
	if msg := b.text("#volume-error"); !strings.Contains(msg, "cannot exceed maximum") {
		t.Errorf("the volume field's error is %q, want the API's overLimit message", msg)
	}
	if v, _ := chromedp.Run(b.ctx, chromedp.Evaluate[string](`document.querySelector("#name").value`)); v != "too-big" {
		t.Errorf("the form lost its values: name = %q", v)
	}
	b.screenshot("02-create-fault")

	// Create a MariaDB instance with a database and a user.
	b.do("create an instance",
		chromedp.Navigate(base+"/dashboard/instances/new"),
		chromedp.SendKeys(chromedp.CSS("#name"), "web"),
		chromedp.SetValue(chromedp.CSS("#volume"), "1"),
		chromedp.SendKeys(chromedp.CSS("#databases"), "shop"),
		chromedp.SendKeys(chromedp.CSS("#user_name"), "app"),
		chromedp.SendKeys(chromedp.CSS("#user_password"), "app-pw-123"),
		chromedp.Click(chromedp.CSS("#create-submit")),
		chromedp.WaitVisible(chromedp.CSS("#instance-name")),
	)
	loc, _ := chromedp.Run(b.ctx, chromedp.Location())
	webID := loc[strings.LastIndex(loc, "/")+1:]
	t.Cleanup(func() { deleteQuietly(ctx, admin, webID) })
	// ACTIVE arrives through the page's live status, without a reload.
	waitJS[bool](b, "web to become ACTIVE", waitActive, activeTimeout)
	web := b.connectionURI("app")
	if web.Port() != "3306" || web.Path != "/shop" {
		t.Errorf("connection string %s, want port 3306 and database shop", web)
	}
	b.screenshot("03-instance-active")

	db := dial(t, web, "app-pw-123")
	if _, err := db.Exec("CREATE TABLE notes (id INT PRIMARY KEY, body TEXT)"); err != nil {
		t.Fatalf("create a table through the shown connection string: %v", err)
	}
	if _, err := db.Exec("INSERT INTO notes VALUES (1, 'written through the dashboard')"); err != nil {
		t.Fatal(err)
	}

	// Restart: the flash says so, and the page follows the instance back to ACTIVE.
	b.submit("restart", "#restart", "Restarting.")
	waitJS[bool](b, "web to be ACTIVE after the restart", waitActive, activeTimeout)
	var n int
	if err := dial(t, web, "app-pw-123").QueryRow("SELECT COUNT(*) FROM notes").Scan(&n); err != nil || n != 1 {
		t.Fatalf("after the restart: %d rows, %v; want 1", n, err)
	}

	// A database, then a user with access to it.
	b.do("type a database name", chromedp.SendKeys(chromedp.CSS("#db-name"), "extra"))
	b.submit("create a database", "#db-create", "Database extra created.")
	waitJS[bool](b, "the database to be listed", `document.querySelector("#databases").textContent.includes("extra")`, 30*time.Second)
	b.do("fill in a user",
		chromedp.SendKeys(chromedp.CSS("#user-name"), "reporter"),
		chromedp.SendKeys(chromedp.CSS("#user-password"), "reporter-pw-1"),
		chromedp.Click(chromedp.CSS(`input[name="access"][value="extra"]`)),
	)
	b.submit("create a user", "#user-create", "User reporter created.")
	waitJS[bool](b, "the user to be listed", `document.querySelector("#users").textContent.includes("reporter")`, 30*time.Second)
	rep := *web
	rep.User, rep.Path = url.User("reporter"), "/extra"
	if err := dial(t, &rep, "reporter-pw-1").Ping(); err != nil {
		t.Errorf("the new user cannot reach its database: %v", err)
	}

	// Root: its password is shown once, and works.
	b.do("enable root", chromedp.Click(chromedp.CSS("#root-enable")), chromedp.WaitVisible(chromedp.CSS("#root-secret")))
	rootURI := *web
	rootURI.User, rootURI.Path = url.User("root"), "/"
	if err := dial(t, &rootURI, b.text("#root-password")).Ping(); err != nil {
		t.Errorf("root cannot log in with the password the page showed: %v", err)
	}

	// Publish the engine's error log: listed as published, and it downloads.
	b.submit("publish the error log", `button[aria-label="Publish log error"]`, "Log error published.")
	if st := b.text("#log-error .log-status"); st != "Published" && st != "Partial" {
		t.Errorf("after publishing, the error log's status is %q", st)
	}
	if text := waitJS[string](b, "the published error log's download", `(() => { const x = new XMLHttpRequest();
		x.open("GET", document.querySelector("#log-error a[download]").href, false); x.send();
		return x.status === 200 && x.responseText })()`, 10*time.Second); len(text) == 0 {
		t.Error("the published error log downloads empty")
	}

	// A configuration group with the engine's parameter catalogue, attached
	// to web: the engine takes its value.
	b.do("fill in a configuration group",
		chromedp.Navigate(base+"/dashboard/configurations"),
		chromedp.SendKeys(chromedp.CSS("#cfg-name"), "tuned"),
		chromedp.Evaluate[chromedp.Void](`void (document.querySelector("#cfg-datastore").value =
			Array.from(document.querySelectorAll("#cfg-datastore option")).map(o => o.value).find(v => v.startsWith("mysql:")))`),
		chromedp.SendKeys(chromedp.CSS("#cfg-values"), "max_connections = 123"),
	)
	b.submit("create a configuration group", "#cfg-create", "Configuration group tuned created.")
	if cat := b.text("#parameters"); !strings.Contains(cat, "max_connections") || !strings.Contains(cat, "restart") {
		t.Errorf("the parameter catalogue shows:\n%s", cat)
	}
	b.screenshot("04-configuration")
	cfgPage, _ := chromedp.Run(b.ctx, chromedp.Location())
	b.do("choose the group on web's page",
		chromedp.Navigate(base+"/dashboard/instances/"+webID),
		chromedp.Evaluate[chromedp.Void](`void (document.querySelector("#attach-configuration").value =
			Array.from(document.querySelectorAll("#attach-configuration option")).find(o => o.textContent === "tuned").value)`),
	)
	b.submit("attach the group", "#configuration-apply", "Configuration group attached.")
	waitFor(t, activeTimeout, "max_connections to be 123", func() bool {
		var v int
		return dial(t, web, "app-pw-123").QueryRow("SELECT @@max_connections").Scan(&v) == nil && v == 123
	})
	waitJS[bool](b, "web to be ACTIVE with its group", waitActive, activeTimeout)

	// Back it up, and wait for the backup on the backups page.
	b.do("name a backup", chromedp.SendKeys(chromedp.CSS("#backup-name"), "nightly"))
	b.submit("back up", "#backup-create", "Backup nightly started.")
	deadline := time.Now().Add(activeTimeout)
	for {
		b.do("open the backups page", chromedp.Navigate(base+"/dashboard/backups"), chromedp.WaitVisible(chromedp.CSS("main")))
		row := waitJS[string](b, "the backups page", `(document.querySelector("#backups") || document.querySelector("main")).textContent`, 10*time.Second)
		if strings.Contains(row, "COMPLETED") {
			break
		}
		if strings.Contains(row, "FAILED") || time.Now().After(deadline) {
			t.Fatalf("the backup did not complete: %s", row)
		}
		pollPause(500 * time.Millisecond)
	}
	b.screenshot("05-backups")

	// A backup schedule, then gone again.
	b.submit("add a schedule", "#schedule-create", "Backup schedule created.")
	if list := b.text("#schedules"); !strings.Contains(list, "web") || !strings.Contains(list, "full every day") {
		t.Errorf("the schedules show:\n%s", list)
	}
	b.submit("delete the schedule", `button[aria-label="Delete this schedule"]`, "Backup schedule deleted.")

	// Restore it into a new instance: the row is there.
	b.do("restore",
		chromedp.Click(chromedp.CSS(`a[aria-label="Restore backup nightly into a new instance"]`)),
		chromedp.WaitVisible(chromedp.CSS("#create-form")),
		chromedp.SendKeys(chromedp.CSS("#name"), "web-restored"),
		chromedp.Click(chromedp.CSS("#create-submit")),
		chromedp.WaitVisible(chromedp.CSS("#instance-name")),
	)
	loc, _ = chromedp.Run(b.ctx, chromedp.Location())
	restoredID := loc[strings.LastIndex(loc, "/")+1:]
	if restoredID == webID || restoredID == "" {
		t.Fatalf("the restore did not open a new instance's page (at %s)", loc)
	}
	t.Cleanup(func() { deleteQuietly(ctx, admin, restoredID) })
	waitJS[bool](b, "web-restored to become ACTIVE", waitActive, activeTimeout)
	restored := b.connectionURI("app")
	if restored.Host == web.Host {
		t.Errorf("the restored instance shows the source's address %s", restored.Host)
	}
	var body string
	if err := dial(t, restored, "app-pw-123").QueryRow("SELECT body FROM notes WHERE id = 1").Scan(&body); err != nil || body != "written through the dashboard" {
		t.Errorf("the restored instance: row %q, %v; want the row written before the backup", body, err)
	}

	// Phone width: the instance page reflows, nothing wider than the screen.
	b.do("phone width", chromedp.EmulateViewport(390, 844), chromedp.Reload(), chromedp.WaitVisible(chromedp.CSS("#instance-name")))
	if wide := waitJS[float64](b, "the page's width", `document.documentElement.scrollWidth || 1`, 5*time.Second); wide > 390 {
		t.Errorf("at 390 px the page is %v px wide: it scrolls sideways", wide)
	}
	b.screenshot("06-instance-phone")
	b.do("desktop width", chromedp.EmulateViewport(1200, 900))

	// Another project's member sees none of it.
	bob := newTab(t, browser, base, shot, "bob", "bob-secret-1", "other")
	list := bob.text("main")
	for _, name := range []string{"web", "web-restored"} {
		if strings.Contains(list, name) {
			t.Errorf("bob's instance list shows %s:\n%s", name, list)
		}
	}
	bob.do("bob opens web's page", chromedp.Navigate(base+"/dashboard/instances/"+webID), chromedp.WaitVisible(chromedp.CSS("#page-error")))
	if page := bob.text("main"); strings.Contains(page, "shop") || strings.Contains(page, web.Host) || !strings.Contains(page, "be found") {
		t.Errorf("bob on web's page sees:\n%s", page)
	}
	bob.do("bob opens the backups", chromedp.Navigate(base+"/dashboard/backups"), chromedp.WaitVisible(chromedp.CSS("main")))
	if page := bob.text("main"); strings.Contains(page, "nightly") {
		t.Errorf("bob's backups page shows the admin's backup:\n%s", page)
	}

	// The admin's project page: the other project's quotas, changed in place.
	b.do("open the other project's quotas",
		chromedp.Navigate(base+"/dashboard/quotas?project="+projID),
		chromedp.WaitVisible(chromedp.CSS("#quota-instances")),
		chromedp.SetValue(chromedp.CSS("#quota-instances"), "3"),
	)
	b.submit("save the other project's quotas", "#quota-save", "Quotas updated.")
	if v := waitJS[string](b, "the new limit", `document.querySelector("#quota-instances").value`, 10*time.Second); v != "3" {
		t.Errorf("the other project's instance limit shows %q after saving 3", v)
	}
	if page := bob.text("header"); !strings.Contains(page, "Quotas") || strings.Contains(page, "Projects and quotas") {
		t.Errorf("bob, a member, sees the admin's pages")
	}

	// Delete both, confirming on the confirmation page.
	for _, id := range []string{restoredID, webID} {
		b.do("open the delete confirmation of "+id,
			chromedp.Navigate(base+"/dashboard/instances/"+id),
			chromedp.Click(chromedp.CSS("#delete")),
			chromedp.WaitVisible(chromedp.CSS("#confirm-delete")),
		)
		b.submit("delete "+id, "#confirm-delete", "is being deleted")
		waitGone(ctx, t, admin, id, activeTimeout)
	}
	b.do("the list after deleting", chromedp.Navigate(base+"/dashboard/instances"), chromedp.WaitVisible(chromedp.CSS("main")))
	if page := b.text("main"); strings.Contains(page, "web") {
		t.Errorf("the list still shows a deleted instance:\n%s", page)
	}
	// The group, free again, is deleted.
	b.do("open the group", chromedp.Navigate(cfgPage), chromedp.WaitVisible(chromedp.CSS("#cfg-delete")))
	b.submit("delete the group", "#cfg-delete", "Configuration group deleted.")
	b.do("log out", chromedp.Click(chromedp.CSS("#logout")), chromedp.WaitVisible(chromedp.CSS("#login-submit")))
}

// deleteQuietly deletes an instance the test made, if it is still there.
func deleteQuietly(ctx context.Context, sc *gophercloud.ServiceClient, id string) {
	if id != "" {
		_ = instances.Delete(ctx, sc, id).ExtractErr()
	}
}
