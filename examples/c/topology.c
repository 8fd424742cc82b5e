/*
 * A C user of the netns C ABI: builds a small topology through include/netns.h
 * only, checks every step through the ABI, exercises its error rules, and
 * removes everything it made.
 *
 *   topology NETNS_DIR IPAM_DATA_DIR
 *
 * NETNS_DIR is the directory for the named namespace (never /run/netns in the
 * tests: a temporary directory), IPAM_DATA_DIR the host-local data directory.
 * Run it in a private network namespace (e.g. `unshare -n`): it adds links to
 * the namespace it runs in.
 *
 * The topology:
 *
 *   this namespace                       NETNS_DIR/c-user-pod
 *   veth-c0 10.99.0.1/24  <--- veth --->  eth0 10.99.0.2/24 (+ an IPAM address)
 *                                         default via 10.99.0.1
 *
 * Prints one "ok: ..." line per step; on the first failure prints the
 * library's message and exits with status 1. Exit status 0 means every step
 * passed and everything was cleaned up.
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>

#include "netns.h"

#define NS_NAME "c-user-pod"
#define HOST_IF "veth-c0"
#define POD_IF "eth0"

static void fail(const char *what, int32_t rc, const netns_error *err)
{
    fprintf(stderr, "FAIL: %s: rc=%d (%s): %s\n", what, (int)rc,
            rc > 0 && rc < 4096 ? strerror(rc) : "library code", netns_error_message(err));
    exit(1);
}

static void require(bool cond, const char *what)
{
    if (!cond) {
        fprintf(stderr, "FAIL: %s\n", what);
        exit(1);
    }
    printf("ok: %s\n", what);
}

/*
 * TRY(call): `call` must use `&err` as its last argument; it must succeed,
 * and on success must not have stored an error.
 */
#define TRY(call)                                                                                  \
    do {                                                                                           \
        netns_error *err = NULL;                                                                   \
        int32_t rc_ = (call);                                                                      \
        if (rc_ != 0)                                                                              \
            fail(#call, rc_, err);                                                                 \
        require(err == NULL, #call);                                                               \
    } while (0)

/*
 * EXPECT_CODE(call, code, text): `call` (using `&err`) must fail with `code`,
 * store an error with the same code, and a message containing `text` (NULL:
 * any message). The error is freed.
 */
#define EXPECT_CODE(call, code, text)                                                              \
    do {                                                                                           \
        netns_error *err = NULL;                                                                   \
        int32_t rc_ = (call);                                                                      \
        expect_code(#call, rc_, err, (code), (text));                                              \
        netns_error_free(err);                                                                     \
    } while (0)

static void expect_code(const char *what, int32_t rc, const netns_error *err, int32_t code,
                        const char *text)
{
    if (rc != code) {
        fprintf(stderr, "FAIL: %s: expected rc=%d, got %d: %s\n", what, (int)code, (int)rc,
                netns_error_message(err));
        exit(1);
    }
    if (err == NULL || netns_error_code(err) != code) {
        fprintf(stderr, "FAIL: %s: no error object with code %d\n", what, (int)code);
        exit(1);
    }
    const char *msg = netns_error_message(err);
    if (text != NULL && strstr(msg, text) == NULL) {
        fprintf(stderr, "FAIL: %s: message %s lacks %s\n", what, msg, text);
        exit(1);
    }
    printf("ok: %s -> %d: %s\n", what, (int)rc, msg);
}

/* Whether `list` contains `s`. */
static bool list_has(const netns_string_list *list, const char *s)
{
    for (size_t i = 0; i < netns_string_list_len(list); i++) {
        if (strcmp(netns_string_list_get(list, i), s) == 0)
            return true;
    }
    return false;
}

static void print_list(const char *what, const netns_string_list *list)
{
    printf("%s:", what);
    for (size_t i = 0; i < netns_string_list_len(list); i++)
        printf(" %s", netns_string_list_get(list, i));
    printf("\n");
}

static bool link_exists(netns_handle *h, const char *name)
{
    netns_string_list *names = NULL;
    TRY(netns_link_names(h, &names, &err));
    bool has = list_has(names, name);
    netns_string_list_free(names);
    return has;
}

static bool addr_exists(netns_handle *h, const char *ifname, const char *cidr)
{
    netns_string_list *cidrs = NULL;
    TRY(netns_addr_list(h, ifname, &cidrs, &err));
    bool has = list_has(cidrs, cidr);
    netns_string_list_free(cidrs);
    return has;
}

/* Run argv in the namespace at ns_path, wait for it, return its exit status. */
static int spawn_and_wait(const char *ns_path, const char *const *argv)
{
    int32_t pid = -1;
    TRY(netns_spawn(ns_path, argv, &pid, &err));
    require(pid > 0, "netns_spawn returned a pid");
    int status = 0;
    pid_t got;
    do {
        got = waitpid((pid_t)pid, &status, 0);
    } while (got < 0 && errno == EINTR);
    require(got == (pid_t)pid, "waitpid reaped the spawned child");
    require(WIFEXITED(status), "the spawned child exited normally");
    return WEXITSTATUS(status);
}

/* The boundary rules, seen from C. */
static void boundary_rules(const char *netns_dir)
{
    const char *version = netns_version();
    require(strncmp(version, "netns-ffi/", 10) == 0, "netns_version starts with netns-ffi/");
    printf("version: %s\n", version);
    require(netns_abi_version() == 1 && NETNS_ABI_VERSION == 1, "netns_abi_version() == 1");

    /* NULL where a value is required. */
    EXPECT_CODE(netns_ns_create_named(netns_dir, NULL, &err), NETNS_ERR_NULL_POINTER, "name");
    EXPECT_CODE(netns_handle_new(NULL, NULL, &err), NETNS_ERR_NULL_POINTER, "out");
    EXPECT_CODE(netns_link_names(NULL, NULL, &err), NETNS_ERR_NULL_POINTER, NULL);
    EXPECT_CODE(netns_ipam_new(NULL, NULL, &err), NETNS_ERR_NULL_POINTER, NULL);
    /* err may be NULL: the code still comes back. */
    require(netns_link_del(NULL, "x", NULL) == NETNS_ERR_NULL_POINTER,
            "err == NULL still returns the code");
    /* Strings must be UTF-8. */
    EXPECT_CODE(netns_ns_create_named(netns_dir, "bad\xff", &err), NETNS_ERR_INVALID_UTF8,
                "UTF-8");
    /* A name that would escape its directory is refused before anything happens. */
    {
        netns_error *err = NULL;
        int32_t rc = netns_ns_create_named(netns_dir, "../escape", &err);
        require(rc != 0 && err != NULL, "netns_ns_create_named(\"../escape\") fails");
        printf("     -> %d: %s\n", (int)rc, netns_error_message(err));
        netns_error_free(err);
    }
    /* *_free(NULL) is a no-op; NULL objects read as empty. */
    netns_error_free(NULL);
    netns_string_list_free(NULL);
    netns_handle_free(NULL);
    netns_ipam_free(NULL);
    require(netns_error_code(NULL) == 0 && strcmp(netns_error_message(NULL), "") == 0,
            "NULL error reads as code 0, empty message");
    require(netns_string_list_len(NULL) == 0 && netns_string_list_get(NULL, 0) == NULL,
            "NULL list reads as empty");
}

/* IPAM: allocate for a container, use the address, release it. */
static void ipam(netns_handle *pod, const char *data_dir)
{
    char config[1024];
    int n = snprintf(config, sizeof config,
                     "{\"cniVersion\":\"1.0.0\",\"name\":\"c-user-net\",\"type\":\"host-local\","
                     "\"ipam\":{\"type\":\"host-local\",\"dataDir\":\"%s\","
                     "\"ranges\":[[{\"subnet\":\"10.99.0.0/24\",\"rangeStart\":\"10.99.0.10\","
                     "\"rangeEnd\":\"10.99.0.20\",\"gateway\":\"10.99.0.1\"}]]}}",
                     data_dir);
    require(n > 0 && (size_t)n < sizeof config, "IPAM config fits");

    EXPECT_CODE(netns_ipam_new("{\"name\":\"x\"", NULL, &err), NETNS_ERR_NULL_POINTER, NULL);
    {
        netns_ipam *bad = NULL;
        EXPECT_CODE(netns_ipam_new("{not json", &bad, &err), NETNS_ERR_IPAM_CONFIG, NULL);
        require(bad == NULL, "out-parameter untouched on failure");
    }

    netns_ipam *ipam = NULL;
    TRY(netns_ipam_new(config, &ipam, &err));
    require(ipam != NULL, "netns_ipam_new gave an allocator");

    netns_string_list *cidrs = NULL;
    TRY(netns_ipam_allocate(ipam, "c-user-container", POD_IF, &cidrs, &err));
    print_list("allocated", cidrs);
    require(netns_string_list_len(cidrs) == 1, "one address per range set");
    const char *cidr = netns_string_list_get(cidrs, 0);
    require(strncmp(cidr, "10.99.0.1", 9) == 0 && strlen(cidr) == 13 &&
                strcmp(cidr + 11, "24") == 0,
            "the address is in 10.99.0.10-20, with the range's /24");

    {
        netns_string_list *again = NULL;
        EXPECT_CODE(netns_ipam_allocate(ipam, "c-user-container", POD_IF, &again, &err),
                    NETNS_ERR_IPAM_DUPLICATE, NULL);
        require(again == NULL, "out-parameter untouched on failure");
    }

    TRY(netns_addr_add(pod, POD_IF, cidr, &err));
    require(addr_exists(pod, POD_IF, cidr), "the IPAM address is on eth0");
    TRY(netns_addr_del(pod, POD_IF, cidr, &err));
    require(!addr_exists(pod, POD_IF, cidr), "the IPAM address is gone from eth0");

    TRY(netns_ipam_release(ipam, "c-user-container", POD_IF, &err));
    TRY(netns_ipam_release(ipam, "c-user-container", POD_IF, &err)); /* idempotent */
    netns_string_list_free(cidrs);

    /* Released: the same pair can allocate again. */
    TRY(netns_ipam_allocate(ipam, "c-user-container", POD_IF, &cidrs, &err));
    TRY(netns_ipam_release(ipam, "c-user-container", POD_IF, &err));
    netns_string_list_free(cidrs);
    netns_ipam_free(ipam);
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: %s NETNS_DIR IPAM_DATA_DIR\n", argv[0]);
        return 2;
    }
    /* Line-buffered, so our lines and the spawned children's interleave in order. */
    setvbuf(stdout, NULL, _IOLBF, 0);
    const char *netns_dir = argv[1];
    const char *data_dir = argv[2];
    char ns_path[4096];
    int n = snprintf(ns_path, sizeof ns_path, "%s/%s", netns_dir, NS_NAME);
    require(n > 0 && (size_t)n < sizeof ns_path, "namespace path fits");

    boundary_rules(netns_dir);

    /* A named namespace in NETNS_DIR. */
    TRY(netns_ns_create_named(netns_dir, NS_NAME, &err));
    EXPECT_CODE(netns_ns_create_named(netns_dir, NS_NAME, &err), EEXIST, NULL);
    {
        netns_string_list *names = NULL;
        TRY(netns_ns_list(netns_dir, &names, &err));
        print_list("namespaces", names);
        require(list_has(names, NS_NAME), "netns_ns_list shows the namespace");
        netns_string_list_free(names);
    }

    /* Handles: this namespace, and the new one (opened by path). */
    netns_handle *host = NULL;
    netns_handle *pod = NULL;
    TRY(netns_handle_new(NULL, &host, &err));
    TRY(netns_handle_new(ns_path, &pod, &err));
    {
        netns_handle *none = NULL;
        EXPECT_CODE(netns_handle_new("/nonexistent/netns", &none, &err), ENOENT, NULL);
        require(none == NULL, "out-parameter untouched on failure");
    }

    /* A veth pair, the peer created directly in the namespace. */
    TRY(netns_link_add_veth(host, HOST_IF, POD_IF, ns_path, &err));
    require(link_exists(host, HOST_IF) && !link_exists(host, POD_IF),
            "veth-c0 is here, its peer is not");
    require(link_exists(pod, POD_IF) && link_exists(pod, "lo"), "eth0 and lo are in the pod");
    /* Errors: a duplicate link is the kernel's EEXIST, passed through. */
    EXPECT_CODE(netns_link_add_veth(host, HOST_IF, "veth-c1", NULL, &err), EEXIST,
                strerror(EEXIST));
    /* The kernel's extended-ack text reaches the caller. */
    EXPECT_CODE(netns_link_set_mtu(host, HOST_IF, 70000, &err), EINVAL, "kernel:");
    EXPECT_CODE(netns_link_del(host, "no-such-link", &err), ENODEV, NULL);
    {
        uint32_t idx = 12345;
        EXPECT_CODE(netns_link_index(pod, "no-such-link", &idx, &err), ENODEV, NULL);
        require(idx == 12345, "out-parameter untouched on failure");
    }
    uint32_t eth0_index = 0;
    TRY(netns_link_index(pod, POD_IF, &eth0_index, &err));
    require(eth0_index > 1, "eth0 has an index (lo is 1)");
    printf("eth0 index: %u\n", (unsigned)eth0_index);

    /* Addresses on both ends, links up. */
    TRY(netns_link_set_mtu(host, HOST_IF, 1400, &err));
    TRY(netns_addr_add(host, HOST_IF, "10.99.0.1/24", &err));
    TRY(netns_addr_add(pod, POD_IF, "10.99.0.2/24", &err));
    TRY(netns_addr_add(pod, POD_IF, "fd00:99::2/64", &err));
    EXPECT_CODE(netns_addr_add(pod, POD_IF, "10.99.0.2/24", &err), EEXIST, NULL);
    EXPECT_CODE(netns_addr_add(pod, POD_IF, "10.99.0.300/24", &err), EINVAL, "cidr");
    TRY(netns_link_set_up(host, HOST_IF, &err));
    TRY(netns_link_set_up(pod, POD_IF, &err));
    TRY(netns_link_set_up(pod, "lo", &err));
    require(addr_exists(host, HOST_IF, "10.99.0.1/24"), "veth-c0 has 10.99.0.1/24");
    {
        netns_string_list *cidrs = NULL;
        TRY(netns_addr_list(pod, POD_IF, &cidrs, &err));
        print_list("eth0 addresses", cidrs);
        require(netns_string_list_len(cidrs) >= 2 &&
                    strcmp(netns_string_list_get(cidrs, 0), "10.99.0.2/24") == 0 &&
                    list_has(cidrs, "fd00:99::2/64"),
                "eth0 has 10.99.0.2/24 (IPv4 first) and fd00:99::2/64");
        require(netns_string_list_get(cidrs, netns_string_list_len(cidrs)) == NULL,
                "netns_string_list_get out of range is NULL");
        netns_string_list_free(cidrs);
    }

    /* The default route inside the namespace, via the host end. */
    TRY(netns_route_add(pod, "default", "10.99.0.1", NULL, 0, &err));
    /* It is there: adding it again is EEXIST; replacing it is fine. */
    EXPECT_CODE(netns_route_add(pod, "default", "10.99.0.1", NULL, 0, &err), EEXIST, NULL);
    TRY(netns_route_replace(pod, "default", "10.99.0.1", POD_IF, 0, &err));
    TRY(netns_route_add(pod, "192.0.2.0/24", "10.99.0.1", POD_IF, 100, &err));
    TRY(netns_route_del(pod, "192.0.2.0/24", NULL, NULL, &err));
    EXPECT_CODE(netns_route_del(pod, "192.0.2.0/24", NULL, NULL, &err), ESRCH, NULL);
    /* The route is the pod's, not ours. */
    EXPECT_CODE(netns_route_del(host, "default", NULL, NULL, &err), ESRCH, NULL);

    /* A process inside the namespace sees eth0, its address and the route. */
    {
        const char *const show_link[] = {"ip", "-o", "link", "show", "dev", POD_IF, NULL};
        require(spawn_and_wait(ns_path, show_link) == 0, "ip link show eth0 succeeds in the pod");
        const char *const host_link[] = {"ip", "link", "show", "dev", HOST_IF, NULL};
        require(spawn_and_wait(ns_path, host_link) != 0, "veth-c0 is not visible in the pod");
        /* Fails with "Network is unreachable" unless the default route is there. */
        const char *const route_get[] = {"ip", "-o", "route", "get", "192.0.2.1", NULL};
        require(spawn_and_wait(ns_path, route_get) == 0, "192.0.2.1 is routed via the default");
        int32_t pid = 777;
        const char *const empty[] = {NULL};
        EXPECT_CODE(netns_spawn(ns_path, empty, &pid, &err), EINVAL, NULL);
        EXPECT_CODE(netns_spawn(ns_path, NULL, &pid, &err), NETNS_ERR_NULL_POINTER, "argv");
        require(pid == 777, "out-parameter untouched on failure");
    }

    ipam(pod, data_dir);

    /* Clean up: route, addresses, the pair (deleting one end deletes both). */
    TRY(netns_route_del(pod, "default", "10.99.0.1", NULL, &err));
    TRY(netns_addr_del(pod, POD_IF, "10.99.0.2/24", &err));
    TRY(netns_addr_del(host, HOST_IF, "10.99.0.1/24", &err));
    TRY(netns_link_del(host, HOST_IF, &err));
    require(!link_exists(host, HOST_IF) && !link_exists(pod, POD_IF), "the veth pair is gone");
    netns_handle_free(pod);
    netns_handle_free(host);

    TRY(netns_ns_delete_named(netns_dir, NS_NAME, &err));
    EXPECT_CODE(netns_ns_delete_named(netns_dir, NS_NAME, &err), ENOENT, NULL);
    {
        netns_string_list *names = NULL;
        TRY(netns_ns_list(netns_dir, &names, &err));
        require(netns_string_list_len(names) == 0, "the netns directory is empty");
        netns_string_list_free(names);
    }
    printf("All steps passed.\n");
    return 0;
}
