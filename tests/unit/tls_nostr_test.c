/* fy_tls_errstr in a process that never loads OpenSSL's error strings, as
 * ferry-agent runs (issue 10): the failures an operator meets are still
 * named in OpenSSL's words, alerts from the peer by their description, and
 * anything else by its code and the command that explains it. A process
 * of its own: whether the strings load is decided once, by the first
 * OpenSSL initialisation, and tls_test loads them. */
#include <stdio.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>

#include "cu_run.h"
#include "ferry/tls.h"

static void expect(int lib, int reason, const char *want)
{
	char buf[256];

	ERR_clear_error();
	ERR_raise(lib, reason);
	fy_tls_errstr(buf, sizeof(buf));
	CU_ASSERT_STRING_EQUAL(buf, want);
	if (strcmp(buf, want))
		fprintf(stderr, "got '%s', want '%s'\n", buf, want);
	CU_ASSERT_EQUAL(ERR_peek_error(), 0);	/* the queue is drained */
}

static void test_no_strings_loaded(void)
{
	/* The premise: OpenSSL itself has no text for this reason. */
	CU_ASSERT_PTR_NULL(ERR_reason_error_string(ERR_PACK(ERR_LIB_SSL, 0,
							    SSL_R_WRONG_VERSION_NUMBER)));
}

static void test_known(void)
{
	expect(ERR_LIB_SSL, SSL_R_WRONG_VERSION_NUMBER, "wrong version number");
	expect(ERR_LIB_SSL, SSL_R_CERTIFICATE_VERIFY_FAILED, "certificate verify failed");
	expect(ERR_LIB_SSL, SSL_R_UNEXPECTED_EOF_WHILE_READING, "unexpected eof while reading");
	expect(ERR_LIB_PEM, PEM_R_NO_START_LINE, "no start line");
}

static void test_alert(void)
{
	expect(ERR_LIB_SSL, SSL_R_SSLV3_ALERT_HANDSHAKE_FAILURE,
	       "the peer sent TLS alert 'handshake failure'");
}

static void test_other_by_code(void)
{
	char want[128];
	unsigned long e = ERR_PACK(ERR_LIB_SSL, 0, SSL_R_BAD_LENGTH);

	snprintf(want, sizeof(want), "OpenSSL error %08lX (openssl errstr %08lX)", e, e);
	expect(ERR_LIB_SSL, SSL_R_BAD_LENGTH, want);
}

static void test_user_text_kept(void)
{
	char buf[256];

	ERR_clear_error();
	ERR_raise_data(ERR_LIB_USER, 1, "relay certificate fingerprint %s does not match", "x");
	fy_tls_errstr(buf, sizeof(buf));
	CU_ASSERT_STRING_EQUAL(buf, "relay certificate fingerprint x does not match");
}

int main(void)
{
	static const struct cu_test tests[] = {
		{ "no strings loaded", test_no_strings_loaded },
		{ "known reasons named", test_known },
		{ "alerts by description", test_alert },
		{ "others by code", test_other_by_code },
		{ "our own text kept", test_user_text_kept },
	};

	/* As ferry-agent's main does, before anything else touches OpenSSL. */
	if (!OPENSSL_init_ssl(OPENSSL_INIT_NO_LOAD_SSL_STRINGS |
			      OPENSSL_INIT_NO_LOAD_CRYPTO_STRINGS, NULL))
		return 1;
	return cu_run("tls_nostr", tests, ARRAY_LEN(tests));
}
