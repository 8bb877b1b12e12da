package httpapi_test

import (
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/commerce-dev/commerce/infra/postgres/pgtest"
)

// The tests below share one database per suite, each with its own server(s) and fresh
// accounts, and run in parallel: creating a database costs more than most tests. Tests that
// count every row of a table (TestSellers, TestAdminUsersPagination) have their own.

func TestAccounts(t *testing.T) {
	t.Parallel()
	runSuite(t, map[string]func(*testing.T, *pgxpool.Pool){
		"sign-up, me, profile and public view":   testSignUpMeProfileAndPublicView,
		"sign-up validation":                     testSignUpValidation,
		"addresses":                              testAddresses,
		"address validation":                     testAddressValidation,
		"address limit under concurrency":        testAddressLimitConcurrent,
		"login":                                  testLogin,
		"token tampering":                        testTokenTampering,
		"logout revokes at once":                 testLogoutRevokesAtOnce,
		"refresh rotation and reuse":             testRefreshRotationAndReuse,
		"revocation across processes":            testRevocationAcrossProcesses,
		"password change revokes other sessions": testPasswordChangeRevokesOtherSessions,
		"roles per route":                        testRolesPerRoute,
		"password changes are rate-limited":      testPasswordChangesAreRateLimited,
		"hashing burst is 503":                   testHashingBurstIs503,
	})
}

func TestServer(t *testing.T) {
	t.Parallel()
	runSuite(t, map[string]func(*testing.T, *pgxpool.Pool){
		"unknown route and method":       testUnknownRouteAndMethod,
		"body over 1 MiB is 413":         testBodyOverOneMiBIs413,
		"request id":                     testRequestID,
		"panic is a 500 logged once":     testPanicIs500InEnvelopeLoggedOnce,
		"rate limit":                     testRateLimit,
		"CORS":                           testCORS,
		"health and readiness":           testHealthAndReadiness,
		"ready when every check answers": testReadyWhenEveryCheckAnswers,
		"metrics":                        testMetrics,
		"Swagger UI from the binary":     testSwaggerUIFromTheBinary,
		"OpenAPI document":               testOpenAPIDocument,
		"OpenAPI covers every route":     testOpenAPICoversEveryRoute,
	})
}

func runSuite(t *testing.T, tests map[string]func(*testing.T, *pgxpool.Pool)) {
	pool := pgtest.New(t)
	for name, test := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			test(t, pool)
		})
	}
}
