package httpapi_test

import (
	"encoding/json"
	"github.com/jackc/pgx/v5/pgxpool"
	"strings"
	"sync"
	"testing"

	"github.com/google/uuid"
)

func testSignUpMeProfileAndPublicView(t *testing.T, pool *pgxpool.Pool) {
	e := newEnvOn(t, pool)
	addr := email("Kim")
	resp := e.expect(req{method: "POST", path: "/api/v1/users", body: map[string]string{
		"name": "Kim Minsu", "email": strings.ToUpper(addr), "password": password, "phone": "01012345678"}}, 201)
	var u struct {
		ID      uuid.UUID `json:"id"`
		Name    string    `json:"name"`
		Email   string    `json:"email"`
		Status  string    `json:"status"`
		Profile struct {
			NickName string  `json:"nick_name"`
			Image    *string `json:"profile_image_url"`
			Grade    string  `json:"grade"`
		} `json:"profile"`
	}
	resp.decode(t, &u)
	if u.Email != strings.ToLower(addr) || u.Status != "REGISTERED" || u.Profile.Grade != "BRONZE" || u.Profile.NickName != "Kim Minsu" || u.Profile.Image != nil {
		t.Fatalf("POST /users: got %s, want REGISTERED BRONZE user with lower-case e-mail and nick name = name", resp)
	}
	if got, want := resp.header.Get("Location"), "/api/v1/users/"+u.ID.String(); got != want {
		t.Fatalf("Location = %q, want %q", got, want)
	}
	if strings.Contains(string(resp.body), "password") || strings.Contains(string(resp.body), password) {
		t.Fatalf("POST /users: the password leaks: %s", resp)
	}
	if resp.env.Result.Message != "Created" || resp.env.Pagination != nil {
		t.Fatalf("POST /users: envelope %s", resp)
	}

	// Duplicate e-mail, whatever its case: 409.
	e.expect(req{method: "POST", path: "/api/v1/users", body: map[string]string{
		"name": "Other", "email": addr, "password": password, "phone": "01012345678"}}, 409)

	tk := e.login(addr, password, "") // no role: USER
	if tk.TokenType != "Bearer" || tk.AccessToken == "" || tk.RefreshToken == "" || tk.ExpiresAt == "" {
		t.Fatalf("login: got %+v", tk)
	}
	me := e.expect(req{method: "GET", path: "/api/v1/users/me", token: tk.AccessToken}, 200)
	if !strings.Contains(string(me.env.Data), `"phone":"01012345678"`) || !strings.Contains(string(me.env.Data), u.ID.String()) {
		t.Fatalf("GET /users/me: %s", me)
	}

	// PATCH changes what it is given; the new password logs in, the old one does not.
	e.expect(req{method: "PATCH", path: "/api/v1/users/me", token: tk.AccessToken, body: map[string]string{
		"name": "Kim Jisu", "password": "newPass1#", "current_password": password, "phone": "0111234567"}}, 200)
	e.expect(req{method: "POST", path: "/api/v1/auth/login", body: map[string]string{"email": addr, "password": password}}, 401)
	tk = e.login(addr, "newPass1#", "USER")
	e.expect(req{method: "PATCH", path: "/api/v1/users/me", token: tk.AccessToken, body: map[string]string{}}, 400)

	// Profile.
	e.expect(req{method: "PUT", path: "/api/v1/users/me/profile", token: tk.AccessToken, body: map[string]string{
		"nick_name": "jisu", "profile_image_url": "https://example.com/j.png"}}, 200)
	p := e.expect(req{method: "GET", path: "/api/v1/users/me/profile", token: tk.AccessToken}, 200)
	if string(p.env.Data) != `{"nick_name":"jisu","profile_image_url":"https://example.com/j.png","grade":"BRONZE"}` {
		t.Fatalf("GET /users/me/profile: %s", p)
	}
	r := e.expect(req{method: "PUT", path: "/api/v1/users/me/profile", token: tk.AccessToken, body: map[string]string{"nick_name": "  "}}, 400)
	if _, ok := r.fields()["nick_name"]; !ok {
		t.Fatalf("blank nick_name: %s", r)
	}
	e.expect(req{method: "PUT", path: "/api/v1/users/me/profile", token: tk.AccessToken, body: map[string]string{"profile_image_url": "x"}}, 400)

	// The public view has id, name and profile only.
	pub := e.expect(req{method: "GET", path: "/api/v1/users/" + u.ID.String()}, 200)
	var keys map[string]json.RawMessage
	pub.decode(t, &keys)
	if len(keys) != 3 || keys["id"] == nil || keys["name"] == nil || keys["profile"] == nil {
		t.Fatalf("GET /users/{id}: got %s, want id, name and profile only", pub)
	}
	e.expect(req{method: "GET", path: "/api/v1/users/" + uuid.NewString()}, 404)

	// Unregister: soft delete, tokens refused at once, login refused, public view 404, the
	// supervisor still sees the user.
	d := e.expect(req{method: "DELETE", path: "/api/v1/users/me", token: tk.AccessToken}, 200)
	if !strings.Contains(string(d.env.Data), `"status":"UNREGISTERED"`) {
		t.Fatalf("DELETE /users/me: %s", d)
	}
	e.expect(req{method: "GET", path: "/api/v1/users/me", token: tk.AccessToken}, 401, 4002)
	e.expect(req{method: "POST", path: "/api/v1/auth/refresh", body: map[string]string{"refresh_token": tk.RefreshToken}}, 401, 4002)
	e.expect(req{method: "POST", path: "/api/v1/auth/login", body: map[string]string{"email": addr, "password": "newPass1#"}}, 401)
	e.expect(req{method: "GET", path: "/api/v1/users/" + u.ID.String()}, 404)
	sup := e.supervisor()
	a := e.expect(req{method: "GET", path: "/api/v1/admin/users/" + u.ID.String(), token: sup.tokens.AccessToken}, 200)
	if !strings.Contains(string(a.env.Data), `"status":"UNREGISTERED"`) {
		t.Fatalf("GET /admin/users/{id}: %s", a)
	}
}

func testSignUpValidation(t *testing.T, pool *pgxpool.Pool) {
	e := newEnvOn(t, pool)
	valid := func() map[string]any {
		return map[string]any{"name": "Kim", "email": email("v"), "password": password, "phone": "01012345678"}
	}
	tests := []struct {
		name   string
		change func(map[string]any)
		fields []string // every field named in data.fields
	}{
		{"password too short", func(b map[string]any) { b["password"] = "ab1!" }, []string{"password"}},
		{"password too long", func(b map[string]any) { b["password"] = "abcdefgh12345678!" }, []string{"password"}},
		{"password forbidden character", func(b map[string]any) { b["password"] = "abcd123!^" }, []string{"password"}},
		{"password without digit", func(b map[string]any) { b["password"] = "abcdefg!" }, []string{"password"}},
		{"password without letter", func(b map[string]any) { b["password"] = "1234567!" }, []string{"password"}},
		{"password without special", func(b map[string]any) { b["password"] = "abcd1234" }, []string{"password"}},
		{"email not an address", func(b map[string]any) { b["email"] = "not-an-email" }, []string{"email"}},
		{"email with display name", func(b map[string]any) { b["email"] = "Kim <kim@example.com>" }, []string{"email"}},
		{"email without dotted domain", func(b map[string]any) { b["email"] = "kim@localhost" }, []string{"email"}},
		{"phone landline", func(b map[string]any) { b["phone"] = "0212345678" }, []string{"phone"}},
		{"phone with dashes", func(b map[string]any) { b["phone"] = "010-1234-5678" }, []string{"phone"}},
		{"phone too short", func(b map[string]any) { b["phone"] = "0101234567" }, []string{"phone"}},
		{"name blank", func(b map[string]any) { b["name"] = "   " }, []string{"name"}},
		{"name too long", func(b map[string]any) { b["name"] = strings.Repeat("가", 51) }, []string{"name"}},
		{"name wrong type", func(b map[string]any) { b["name"] = 42 }, []string{"name"}},
		{"unknown field", func(b map[string]any) { b["grade"] = "GOLD" }, []string{"grade"}},
		{"field in another case", func(b map[string]any) { b["Email"] = b["email"]; delete(b, "email") }, []string{"Email", "email"}},
		{"everything missing", func(b map[string]any) { clear(b) }, []string{"name", "email", "password", "phone"}},
		{"every field bad at once", func(b map[string]any) {
			b["name"], b["email"], b["password"], b["phone"] = "", "x", "short", "123"
		}, []string{"name", "email", "password", "phone"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := valid()
			tt.change(b)
			resp := e.expect(req{method: "POST", path: "/api/v1/users", body: b}, 400)
			got := resp.fields()
			if len(got) != len(tt.fields) {
				t.Fatalf("fields = %v, want exactly %v (%s)", got, tt.fields, resp)
			}
			for _, f := range tt.fields {
				if got[f] == "" || !strings.Contains(resp.env.Result.Description, f+": ") {
					t.Fatalf("field %s not named in data.fields and result_description: %s", f, resp)
				}
			}
		})
	}
	// Valid edge cases pass.
	for _, pw := range []string{"abcdef1!", "Ab1$Ab1$Ab1$Ab1$"} {
		b := valid()
		b["password"] = pw
		e.expect(req{method: "POST", path: "/api/v1/users", body: b}, 201)
	}
	for _, phone := range []string{"01012345678", "07012345678", "0111234567", "01612345678", "0191234567"} {
		b := valid()
		b["phone"] = phone
		e.expect(req{method: "POST", path: "/api/v1/users", body: b}, 201)
	}
	r := e.expect(req{method: "POST", path: "/api/v1/users", body: `{"name":`}, 400)
	if r.fields()["body"] == "" {
		t.Fatalf("broken JSON: %s", r)
	}
}

func addressBody() map[string]any {
	return map[string]any{"receiver": "Kim", "address1": "1 Teheran-ro", "address2": "101-1001", "zipcode": "06236",
		"phone": "01012345678", "receive_type": "DOOR", "receive_message": "At the door"}
}

func testAddresses(t *testing.T, pool *pgxpool.Pool) {
	e := newEnvOn(t, pool)
	u, other := e.user(), e.user()
	tok := u.tokens.AccessToken

	list := e.expect(req{method: "GET", path: "/api/v1/users/me/addresses", token: tok}, 200)
	if string(list.env.Data) != "[]" {
		t.Fatalf("empty list: %s", list)
	}
	var ids []string
	for i := range 3 {
		b := addressBody()
		b["receiver"] = []string{"A", "B", "C"}[i]
		r := e.expect(req{method: "POST", path: "/api/v1/users/me/addresses", token: tok, body: b}, 201)
		var a struct {
			ID string `json:"id"`
		}
		r.decode(t, &a)
		if r.header.Get("Location") != "/api/v1/users/me/addresses/"+a.ID {
			t.Fatalf("Location = %q", r.header.Get("Location"))
		}
		ids = append(ids, a.ID)
	}
	fourth := e.expect(req{method: "POST", path: "/api/v1/users/me/addresses", token: tok, body: addressBody()}, 422)
	if !strings.Contains(fourth.env.Result.Description, "3") {
		t.Fatalf("4th address: %s", fourth)
	}
	list = e.expect(req{method: "GET", path: "/api/v1/users/me/addresses", token: tok}, 200)
	var got []struct {
		ID       string `json:"id"`
		Receiver string `json:"receiver"`
	}
	list.decode(t, &got)
	if len(got) != 3 || got[0].Receiver != "A" || got[2].Receiver != "C" {
		t.Fatalf("list: %s", list)
	}

	b := addressBody()
	b["receive_type"] = "OFFICE"
	put := e.expect(req{method: "PUT", path: "/api/v1/users/me/addresses/" + ids[1], token: tok, body: b}, 200)
	if !strings.Contains(string(put.env.Data), `"receive_type":"OFFICE"`) {
		t.Fatalf("PUT address: %s", put)
	}
	e.expect(req{method: "GET", path: "/api/v1/users/me/addresses/" + ids[1], token: tok}, 200)

	// Another user's address is 404 for every method, and stays unchanged.
	ot := other.tokens.AccessToken
	e.expect(req{method: "GET", path: "/api/v1/users/me/addresses/" + ids[0], token: ot}, 404)
	e.expect(req{method: "PUT", path: "/api/v1/users/me/addresses/" + ids[0], token: ot, body: addressBody()}, 404)
	e.expect(req{method: "DELETE", path: "/api/v1/users/me/addresses/" + ids[0], token: ot}, 404)
	e.expect(req{method: "GET", path: "/api/v1/users/me/addresses/" + ids[0], token: tok}, 200)

	e.expect(req{method: "DELETE", path: "/api/v1/users/me/addresses/" + ids[0], token: tok}, 200)
	e.expect(req{method: "GET", path: "/api/v1/users/me/addresses/" + ids[0], token: tok}, 404)
	e.expect(req{method: "POST", path: "/api/v1/users/me/addresses", token: tok, body: addressBody()}, 201)
}

func testAddressValidation(t *testing.T, pool *pgxpool.Pool) {
	e := newEnvOn(t, pool)
	tok := e.user().tokens.AccessToken
	for _, field := range []string{"receiver", "address1", "address2", "zipcode", "receive_message"} {
		for _, v := range []any{"", "  \t", nil} {
			b := addressBody()
			if v == nil {
				delete(b, field)
			} else {
				b[field] = v
			}
			r := e.expect(req{method: "POST", path: "/api/v1/users/me/addresses", token: tok, body: b}, 400)
			if len(r.fields()) != 1 || r.fields()[field] == "" {
				t.Fatalf("%s = %q: fields %v, want only %s", field, v, r.fields(), field)
			}
		}
	}
	for field, v := range map[string]any{"receive_type": "HOME", "phone": "0212345678", "zipcode": strings.Repeat("1", 11)} {
		b := addressBody()
		b[field] = v
		r := e.expect(req{method: "POST", path: "/api/v1/users/me/addresses", token: tok, body: b}, 400)
		if r.fields()[field] == "" {
			t.Fatalf("%s = %v: %s", field, v, r)
		}
	}
	for _, rt := range []string{"DOOR", "SELF", "OFFICE"} {
		b := addressBody()
		b["receive_type"] = rt
		e.expect(req{method: "POST", path: "/api/v1/users/me/addresses", token: tok, body: b}, 201)
	}
	e.expect(req{method: "GET", path: "/api/v1/users/me/addresses/not-a-uuid", token: tok}, 400)
}

// The limit holds under concurrency: the database trigger counts under a row lock.
func testAddressLimitConcurrent(t *testing.T, pool *pgxpool.Pool) {
	e := newEnvOn(t, pool)
	tok := e.user().tokens.AccessToken
	const n = 8
	statuses := make([]int, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			statuses[i] = e.do(req{method: "POST", path: "/api/v1/users/me/addresses", token: tok, body: addressBody()}).status
		}()
	}
	wg.Wait()
	count := map[int]int{}
	for _, s := range statuses {
		count[s]++
	}
	if count[201] != 3 || count[422] != n-3 {
		t.Fatalf("%d concurrent adds: statuses %v, want 3 x 201 and %d x 422", n, count, n-3)
	}
}

func TestSellers(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	sup := e.supervisor().tokens.AccessToken
	addr := email("shop")
	body := map[string]string{"name": "Shop", "email": addr, "password": password, "phone": "01012345678"}
	r := e.expect(req{method: "POST", path: "/api/v1/sellers", token: sup, body: body}, 201)
	var s struct {
		ID     string `json:"id"`
		Email  string `json:"email"`
		Status string `json:"status"`
	}
	r.decode(t, &s)
	if s.Email != addr || s.Status != "REGISTERED" || r.header.Get("Location") != "/api/v1/sellers/"+s.ID {
		t.Fatalf("POST /sellers: %s", r)
	}
	e.expect(req{method: "POST", path: "/api/v1/sellers", token: sup, body: body}, 409)
	// The same e-mail may be a user too: unique per role.
	body["name"] = "Shop Owner"
	e.expect(req{method: "POST", path: "/api/v1/users", body: body}, 201)
	e.login(addr, password, "SELLER")
	e.login(addr, password, "USER")

	e.expect(req{method: "GET", path: "/api/v1/sellers/" + s.ID, token: sup}, 200)
	e.expect(req{method: "GET", path: "/api/v1/sellers/" + uuid.NewString(), token: sup}, 404)
	for range 2 {
		b := map[string]string{"name": "S", "email": email("s"), "password": password, "phone": "01012345678"}
		e.expect(req{method: "POST", path: "/api/v1/sellers", token: sup, body: b}, 201)
	}
	l := e.expect(req{method: "GET", path: "/api/v1/sellers?page=1&size=2", token: sup}, 200)
	p := l.env.Pagination
	if p == nil || p.Page != 1 || p.Size != 2 || p.CurrentElements != 1 || p.TotalElements != 3 || p.TotalPage != 2 {
		t.Fatalf("GET /sellers?page=1&size=2: %s", l)
	}
	bad := e.expect(req{method: "POST", path: "/api/v1/sellers", token: sup, body: map[string]string{"name": "S"}}, 400)
	if len(bad.fields()) != 3 {
		t.Fatalf("seller without email, password, phone: %s", bad)
	}
}

func TestAdminUsersPagination(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	sup := e.supervisor().tokens.AccessToken
	for range 3 {
		e.user()
	}
	l := e.expect(req{method: "GET", path: "/api/v1/admin/users", token: sup}, 200)
	if p := l.env.Pagination; p == nil || p.Page != 0 || p.Size != 10 || p.TotalElements != 3 || p.CurrentElements != 3 || p.TotalPage != 1 {
		t.Fatalf("GET /admin/users: %s", l)
	}
	l = e.expect(req{method: "GET", path: "/api/v1/admin/users?page=5&size=100", token: sup}, 200)
	if string(l.env.Data) != "[]" || l.env.Pagination.CurrentElements != 0 {
		t.Fatalf("past the last page: %s", l)
	}
	for _, q := range []string{"size=101", "size=0", "page=-1", "size=abc"} {
		r := e.expect(req{method: "GET", path: "/api/v1/admin/users?" + q, token: sup}, 400)
		name, _, _ := strings.Cut(q, "=")
		if r.fields()[name] == "" {
			t.Fatalf("?%s: %s", q, r)
		}
	}
	e.expect(req{method: "GET", path: "/api/v1/admin/users/" + uuid.NewString(), token: sup}, 404)
}

func testLogin(t *testing.T, pool *pgxpool.Pool) {
	e := newEnvOn(t, pool)
	u := e.user()
	s := e.seller()
	bad := []map[string]string{
		{"email": u.email, "password": "wrong123!"},
		{"email": email("nobody"), "password": password},
		{"email": u.email, "password": password, "role": "SELLER"},
		{"email": s.email, "password": password}, // a seller logging in as USER
		{"email": s.email, "password": password, "role": "SUPERVISOR"},
	}
	var message string
	for _, b := range bad {
		r := e.expect(req{method: "POST", path: "/api/v1/auth/login", body: b}, 401)
		if string(r.env.Data) != "null" {
			t.Fatalf("failed login %v carries data: %s", b, r)
		}
		if message != "" && r.env.Result.Description != message {
			t.Fatalf("failed logins differ: %q vs %q", r.env.Result.Description, message)
		}
		message = r.env.Result.Description
	}
	r := e.expect(req{method: "POST", path: "/api/v1/auth/login", body: map[string]string{"email": u.email, "password": password, "role": "ADMIN"}}, 400)
	if r.fields()["role"] == "" {
		t.Fatalf("unknown role: %s", r)
	}
	e.expect(req{method: "POST", path: "/api/v1/auth/login", body: map[string]string{"email": u.email}}, 400)
	// E-mail case does not matter.
	e.login(strings.ToUpper(s.email), password, "SELLER")
}
