/*
 * A C user of the netns C ABI: builds a small topology through include/netns.h
 * only, checks every step through the ABI, prints the links, routes,
 * neighbours and IPAM result it made (read back from the kernel through the
 * ABI), exercises the error rules, and removes everything it made.
 *
 *   topology NETNS_DIR IPAM_DATA_DIR [--pause]
 *
 * NETNS_DIR is the directory for the named namespace (never /run/netns in the
 * tests: a temporary directory), IPAM_DATA_DIR the host-local data directory.
 * Run it in a private network namespace (e.g. `unshare -n`): it adds links to
 * the namespace it runs in ("host" below). With --pause it stops once the
 * topology is complete and printed, until a line (or end of file) arrives on
 * its standard input, so that the kernel can be compared with what it printed
 * (the tests do, with `ip -j`).
 *
 * The topology:
 *
 *   host (this namespace)                NETNS_DIR/c-user-pod
 *   veth-c0 10.99.0.1/24  <--- veth --->  eth0 10.99.0.2/24, fd00:99::2/64,
 *                                              and the address IPAM gave it
 *                                         default via 10.99.0.1,
 *                                         10.99.0.1 and fd00:99::1 at
 *                                         veth-c0's MAC (permanent)
 *   br-c0 (bridge)
 *     `- veth-c1          <--- veth --->  eth1 10.97.0.2/24
 *     `- (parent of) ...   -- macvlan -->  mv0
 *                                         vx0 (vxlan 42) 198.51.100.1/24,
 *                                         203.0.113.0/24 dev vx0 metric 50
 *                                         (made by one batch)
 *   net.ipv4.ip_forward = 1 here; net.ipv6.conf.default.addr_gen_mode = 1
 *   (no IPv6 link-local addresses) on both sides.
 *
 * The kernel must have veth, bridge, macvlan and vxlan links.
 *
 * ABI version 1 calls (netns_link_add_veth, netns_addr_add, netns_route_add,
 * ...) build the first pair; version 2's link specs (netns_link_spec_new,
 * netns_link_add, netns_link_add_in), a batch, neighbours, sysctls and the
 * read side (netns_link_list, netns_link_get, netns_route_list,
 * netns_route_get, netns_neigh_list) the rest.
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
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>

#include "netns.h"

#define NS_NAME "c-user-pod"
#define HOST_IF "veth-c0"
#define POD_IF "eth0"
#define BRIDGE "br-c0"
#define BRIDGE_MAC "02:c0:00:00:00:01"
#define PORT_IF "veth-c1"
#define PORT_MAC "02:c0:00:00:00:02"
#define PORT_PEER "eth1"
#define MACVLAN "mv0"
#define MACVLAN_MAC "02:c0:00:00:00:03"
#define VXLAN "vx0"
#define VXLAN_MAC "02:c0:00:00:00:04"
#define VXLAN_VNI 42
#define V2_MTU 1450

/* Report a failed call with the library's message, free the error, exit. */
static void fail(const char *what, int32_t rc, netns_error *err)
{
    fprintf(stderr, "FAIL: %s: rc=%d (%s): %s\n", what, (int)rc,
            rc > 0 && rc < 4096 ? strerror(rc) : "library code", netns_error_message(err));
    netns_error_free(err);
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

/* TRY_QUIET(call): TRY without the "ok:" line (for the printing helpers). */
#define TRY_QUIET(call)                                                                            \
    do {                                                                                           \
        netns_error *err = NULL;                                                                   \
        int32_t rc_ = (call);                                                                      \
        if (rc_ != 0)                                                                              \
            fail(#call, rc_, err);                                                                 \
        if (err != NULL) {                                                                         \
            fprintf(stderr, "FAIL: %s stored an error on success\n", #call);                       \
            exit(1);                                                                               \
        }                                                                                          \
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

static void expect_code(const char *what, int32_t rc, netns_error *err, int32_t code,
                        const char *text)
{
    if (rc != code) {
        fprintf(stderr, "FAIL: %s: expected rc=%d, got %d: %s\n", what, (int)code, (int)rc,
                netns_error_message(err));
        netns_error_free(err);
        exit(1);
    }
    if (err == NULL || netns_error_code(err) != code) {
        fprintf(stderr, "FAIL: %s: no error object with code %d\n", what, (int)code);
        netns_error_free(err);
        exit(1);
    }
    const char *msg = netns_error_message(err);
    if (text != NULL && strstr(msg, text) == NULL) {
        fprintf(stderr, "FAIL: %s: message %s lacks %s\n", what, msg, text);
        netns_error_free(err);
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

static bool link_exists(const netns_handle *h, const char *name)
{
    netns_string_list *names = NULL;
    TRY(netns_link_names(h, &names, &err));
    bool has = list_has(names, name);
    netns_string_list_free(names);
    return has;
}

static bool addr_exists(const netns_handle *h, const char *ifname, const char *cidr)
{
    netns_string_list *cidrs = NULL;
    TRY(netns_addr_list(h, ifname, &cidrs, &err));
    bool has = list_has(cidrs, cidr);
    netns_string_list_free(cidrs);
    return has;
}

static bool str_eq(const char *a, const char *b)
{
    return a != NULL && b != NULL && strcmp(a, b) == 0;
}

static const char *or_dash(const char *s)
{
    return s != NULL ? s : "-";
}

/* The name of the link with index `index` in `links`, or NULL. */
static const char *name_of(const netns_links *links, uint32_t index)
{
    for (size_t i = 0; i < netns_links_len(links); i++) {
        const netns_link_info *l = netns_links_get(links, i);
        if (netns_link_info_index(l) == index)
            return netns_link_info_name(l);
    }
    return NULL;
}

/*
 * The links of a namespace, read back through the ABI, as a table (what
 * `ip -br -d link` shows, with the index, kind, MTU and controller):
 *
 *   == links in pod ==
 *   index  name        kind      mtu    mac                state  controller
 *   1      lo          -         65536  00:00:00:00:00:00  UP     -
 *   ...
 *   (a blank line)
 */
static void print_links(const char *where, const netns_handle *h)
{
    netns_links *links = NULL;
    TRY_QUIET(netns_link_list(h, &links, &err));
    printf("== links in %s ==\n", where);
    printf("%-6s %-11s %-9s %-6s %-18s %-6s %s\n", "index", "name", "kind", "mtu", "mac",
           "state", "controller");
    size_t n = netns_links_len(links);
    for (size_t i = 0; i < n; i++) {
        const netns_link_info *l = netns_links_get(links, i);
        uint32_t controller = netns_link_info_controller(l);
        char controller_text[32] = "-";
        if (controller != 0) {
            const char *name = name_of(links, controller);
            if (name != NULL)
                snprintf(controller_text, sizeof controller_text, "%s", name);
            else
                snprintf(controller_text, sizeof controller_text, "if%u", (unsigned)controller);
        }
        printf("%-6u %-11s %-9s %-6u %-18s %-6s %s\n", (unsigned)netns_link_info_index(l),
               netns_link_info_name(l), or_dash(netns_link_info_kind(l)),
               (unsigned)netns_link_info_mtu(l), or_dash(netns_link_info_mac(l)),
               netns_link_info_is_up(l) ? "UP" : "DOWN", controller_text);
    }
    printf("\n");
    require(netns_links_get(links, n) == NULL, "netns_links_get past the end is NULL");
    netns_links_free(links);
}

/*
 * The routes of a namespace's main table, IPv4 and IPv6, read back through
 * the ABI, one per line as `ip route` / `ip -6 route` print them, after the
 * family:
 *
 *   == routes in pod (table main) ==
 *   inet  default via 10.99.0.1 dev eth0
 *   inet6 fd00:99::/64 dev eth0 metric 256
 *   (a blank line)
 */
static void print_routes(const char *where, const netns_handle *h)
{
    netns_links *links = NULL;
    netns_routes *routes = NULL;
    TRY_QUIET(netns_link_list(h, &links, &err));
    TRY_QUIET(netns_route_list(h, 0, 0, &routes, &err));
    printf("== routes in %s (table main) ==\n", where);
    size_t n = netns_routes_len(routes);
    for (size_t i = 0; i < n; i++) {
        const netns_route *r = netns_routes_get(routes, i);
        int32_t family = netns_route_family(r);
        printf("%-5s %s", family == AF_INET ? "inet" : family == AF_INET6 ? "inet6" : "?",
               netns_route_dst(r));
        if (netns_route_gateway(r) != NULL)
            printf(" via %s", netns_route_gateway(r));
        uint32_t dev = netns_route_link_index(r);
        if (dev != 0) {
            const char *name = name_of(links, dev);
            if (name != NULL)
                printf(" dev %s", name);
            else
                printf(" dev if%u", (unsigned)dev);
        }
        if (netns_route_metric(r) != 0)
            printf(" metric %u", (unsigned)netns_route_metric(r));
        if (netns_route_table(r) != 254)
            printf(" table %u", (unsigned)netns_route_table(r));
        printf("\n");
    }
    printf("\n");
    require(netns_routes_get(routes, n) == NULL, "netns_routes_get past the end is NULL");
    netns_routes_free(routes);
    netns_links_free(links);
}

/*
 * The permanent neighbour entries of a link, read back through the ABI, as
 * `ip neigh show dev IFNAME nud permanent` prints them (the list also has
 * the kernel's own entries, e.g. NOARP ones for multicast: left out):
 *
 *   == permanent neighbours of eth0 in pod ==
 *   10.99.0.1 dev eth0 lladdr f2:65:ec:1f:e1:ab PERMANENT
 *   (a blank line)
 */
static void print_neighs(const char *where, const netns_handle *h, const char *ifname)
{
    netns_neighs *neighs = NULL;
    TRY_QUIET(netns_neigh_list(h, ifname, &neighs, &err));
    printf("== permanent neighbours of %s in %s ==\n", ifname, where);
    for (size_t i = 0; i < netns_neighs_len(neighs); i++) {
        const netns_neigh *e = netns_neighs_get(neighs, i);
        if (!str_eq(netns_neigh_state(e), "PERMANENT"))
            continue;
        printf("%s dev %s lladdr %s %s\n", netns_neigh_ip(e), ifname, or_dash(netns_neigh_mac(e)),
               netns_neigh_state(e));
    }
    printf("\n");
    netns_neighs_free(neighs);
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
    require(netns_abi_version() == 2 && NETNS_ABI_VERSION == 2, "netns_abi_version() == 2");

    /* NULL where a value is required. */
    EXPECT_CODE(netns_ns_create_named(netns_dir, NULL, &err), NETNS_ERR_NULL_POINTER, "name");
    EXPECT_CODE(netns_handle_new(NULL, NULL, &err), NETNS_ERR_NULL_POINTER, "out");
    EXPECT_CODE(netns_link_names(NULL, NULL, &err), NETNS_ERR_NULL_POINTER, NULL);
    EXPECT_CODE(netns_ipam_new(NULL, NULL, &err), NETNS_ERR_NULL_POINTER, NULL);
    EXPECT_CODE(netns_link_list(NULL, NULL, &err), NETNS_ERR_NULL_POINTER, NULL);
    EXPECT_CODE(netns_link_spec_new("veth", NULL, NULL, &err), NETNS_ERR_NULL_POINTER, NULL);
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
    /* An unknown link kind is refused by name. */
    {
        netns_link_spec *spec = NULL;
        EXPECT_CODE(netns_link_spec_new("nonsense", "x0", &spec, &err),
                    NETNS_ERR_INVALID_ARGUMENT, "nonsense");
        require(spec == NULL, "out-parameter untouched on failure");
    }
    /* *_free(NULL) is a no-op; NULL objects read as empty. */
    netns_error_free(NULL);
    netns_string_list_free(NULL);
    netns_handle_free(NULL);
    netns_ipam_free(NULL);
    netns_string_free(NULL);
    netns_link_spec_free(NULL);
    netns_link_info_free(NULL);
    netns_links_free(NULL);
    netns_routes_free(NULL);
    netns_route_free(NULL);
    netns_batch_free(NULL);
    netns_outcomes_free(NULL);
    netns_neighs_free(NULL);
    require(netns_error_code(NULL) == 0 && strcmp(netns_error_message(NULL), "") == 0,
            "NULL error reads as code 0, empty message");
    require(netns_string_list_len(NULL) == 0 && netns_string_list_get(NULL, 0) == NULL,
            "NULL list reads as empty");
    require(netns_links_len(NULL) == 0 && netns_links_get(NULL, 0) == NULL &&
                netns_link_info_name(NULL) == NULL && netns_link_info_index(NULL) == 0 &&
                !netns_link_info_is_up(NULL),
            "NULL links and link read as empty");
    require(netns_routes_len(NULL) == 0 && netns_route_dst(NULL) == NULL &&
                netns_route_family(NULL) == 0,
            "NULL routes and route read as empty");
    require(netns_neighs_len(NULL) == 0 && netns_neigh_ip(NULL) == NULL &&
                netns_neigh_state(NULL) == NULL,
            "NULL neighbours and neighbour read as empty");
}

/*
 * The allocator of the pod's network, and the address netns_ipam_add gave
 * eth0 (kept until clean-up).
 */
struct ipam_state {
    netns_ipam *ipam;
    char cidr[64];
};

/*
 * The string value of the first "key": "value" in a JSON text, copied into
 * out; false if it is not there or too long. (Enough for the flat strings
 * of a CNI result; a real program would use a JSON parser.)
 */
static bool json_string(const char *json, const char *key, char *out, size_t size)
{
    char pattern[64];
    int n = snprintf(pattern, sizeof pattern, "\"%s\"", key);
    if (n <= 0 || (size_t)n >= sizeof pattern)
        return false;
    const char *p = strstr(json, pattern);
    if (p == NULL)
        return false;
    p += n;
    while (*p == ' ' || *p == '\n' || *p == '\t')
        p++;
    if (*p++ != ':')
        return false;
    while (*p == ' ' || *p == '\n' || *p == '\t')
        p++;
    if (*p++ != '"')
        return false;
    const char *end = strchr(p, '"');
    if (end == NULL || (size_t)(end - p) >= size)
        return false;
    memcpy(out, p, (size_t)(end - p));
    out[end - p] = '\0';
    return true;
}

/*
 * IPAM: allocate for a container, use the address, release it (version 1);
 * then host-local's ADD as a CNI result (version 2), whose address stays on
 * eth0 until clean-up, and CHECK.
 */
static void ipam(const netns_handle *pod, const char *data_dir, struct ipam_state *state)
{
    char config[1024];
    int n = snprintf(config, sizeof config,
                     "{\"cniVersion\":\"1.0.0\",\"name\":\"c-user-net\",\"type\":\"host-local\","
                     "\"ipam\":{\"type\":\"host-local\",\"dataDir\":\"%s\","
                     "\"ranges\":[[{\"subnet\":\"10.99.0.0/24\",\"rangeStart\":\"10.99.0.10\","
                     "\"rangeEnd\":\"10.99.0.20\",\"gateway\":\"10.99.0.1\"}]],"
                     "\"routes\":[{\"dst\":\"0.0.0.0/0\"}]}}",
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

    /* CHECK of a pair that holds nothing: ENOENT. */
    EXPECT_CODE(netns_ipam_check(ipam, "c-user-container", POD_IF, &err), ENOENT, NULL);

    /* ADD as a CNI plugin returns it: cniVersion 1.0.0 JSON, the caller's to free. */
    char *result = NULL;
    TRY(netns_ipam_add(ipam, "c-user-container", POD_IF, &result, &err));
    require(result != NULL, "netns_ipam_add gave a result");
    printf("== ipam result of eth0 ==\n%s\n\n", result);
    char gateway[64];
    require(json_string(result, "address", state->cidr, sizeof state->cidr),
            "the result has an address");
    require(json_string(result, "gateway", gateway, sizeof gateway) &&
                strcmp(gateway, "10.99.0.1") == 0,
            "the result has the range's gateway, 10.99.0.1");
    netns_string_free(result);
    {
        char *again = NULL;
        EXPECT_CODE(netns_ipam_add(ipam, "c-user-container", POD_IF, &again, &err),
                    NETNS_ERR_IPAM_DUPLICATE, NULL);
        require(again == NULL, "out-parameter untouched on failure");
    }
    TRY(netns_ipam_check(ipam, "c-user-container", POD_IF, &err));
    EXPECT_CODE(netns_ipam_check(ipam, "other-container", POD_IF, &err), ENOENT, NULL);

    /* The result's address goes on eth0, and stays there until clean-up. */
    TRY(netns_addr_add(pod, POD_IF, state->cidr, &err));
    require(addr_exists(pod, POD_IF, state->cidr), "the CNI result's address is on eth0");
    state->ipam = ipam;
}

static void ipam_cleanup(const netns_handle *pod, struct ipam_state *state)
{
    TRY(netns_addr_del(pod, POD_IF, state->cidr, &err));
    TRY(netns_ipam_release(state->ipam, "c-user-container", POD_IF, &err));
    EXPECT_CODE(netns_ipam_check(state->ipam, "c-user-container", POD_IF, &err), ENOENT, NULL);
    netns_ipam_free(state->ipam);
    state->ipam = NULL;
}

/* A sysctl's value, read back and printed as "sysctl WHERE KEY = VALUE". */
static void print_sysctl(const char *where, const netns_handle *h, const char *key,
                         const char *want)
{
    char *value = NULL;
    TRY(netns_sysctl_get(h, key, &value, &err));
    printf("sysctl %s %s = %s\n", where, key, value);
    bool same = strcmp(value, want) == 0;
    netns_string_free(value);
    require(same, "the sysctl has the value set");
}

/*
 * Version 2: links from specs. In the host: a bridge, and a veth whose peer
 * is created directly in the pod, attached to the bridge; in the pod (made
 * from the host's handle, its parent the host's bridge): a macvlan.
 */
static void v2_links(const netns_handle *host, const netns_handle *pod, const char *ns_path)
{
    /* The bridge, up, with its own MAC and MTU. */
    netns_link_spec *bridge = NULL;
    TRY(netns_link_spec_new("bridge", BRIDGE, &bridge, &err));
    TRY(netns_link_spec_set_mac(bridge, BRIDGE_MAC, &err));
    TRY(netns_link_spec_set_mtu(bridge, V2_MTU, &err));
    TRY(netns_link_spec_set_up(bridge, true, &err));
    /* A key the kind does not have is refused, naming both. */
    EXPECT_CODE(netns_link_spec_set_peer(bridge, "x", &err), NETNS_ERR_INVALID_ARGUMENT,
                "bridge");
    /* A value that does not parse is EINVAL, quoting it. */
    EXPECT_CODE(netns_link_spec_set_mac(bridge, "not-a-mac", &err), EINVAL, "not-a-mac");
    TRY(netns_link_add(host, bridge, &err));
    /* The spec is not consumed: adding it again is the kernel's EEXIST. */
    EXPECT_CODE(netns_link_add(host, bridge, &err), EEXIST, NULL);
    netns_link_spec_free(bridge);

    /* A veth whose peer eth1 is created in the pod; both ends get the MTU. */
    netns_link_spec *veth = NULL;
    TRY(netns_link_spec_new("veth", PORT_IF, &veth, &err));
    /* Without its required peer it cannot be added (nothing is made). */
    EXPECT_CODE(netns_link_add(host, veth, &err), NETNS_ERR_INVALID_ARGUMENT, "peer");
    require(!link_exists(host, PORT_IF), "the incomplete veth was not made");
    TRY(netns_link_spec_set_peer(veth, PORT_PEER, &err));
    TRY(netns_link_spec_set_peer_netns(veth, ns_path, &err));
    TRY(netns_link_spec_set_mac(veth, PORT_MAC, &err));
    TRY(netns_link_spec_set_mtu(veth, V2_MTU, &err));
    TRY(netns_link_spec_set_up(veth, true, &err));
    TRY(netns_link_add(host, veth, &err));
    netns_link_spec_free(veth);
    TRY(netns_link_set_controller(host, PORT_IF, BRIDGE, &err));
    TRY(netns_link_set_up(pod, PORT_PEER, &err));
    /* addr replace: adds, then updates in place (no EEXIST). */
    TRY(netns_addr_replace(pod, PORT_PEER, "10.97.0.2/24", &err));
    TRY(netns_addr_replace(pod, PORT_PEER, "10.97.0.2/24", &err));

    /* A macvlan made in the pod on the host's bridge. */
    netns_link_spec *macvlan = NULL;
    TRY(netns_link_spec_new("macvlan", MACVLAN, &macvlan, &err));
    TRY(netns_link_spec_set_parent(macvlan, BRIDGE, &err));
    TRY(netns_link_spec_set_mode(macvlan, "bridge", &err));
    TRY(netns_link_spec_set_mac(macvlan, MACVLAN_MAC, &err));
    TRY(netns_link_spec_set_up(macvlan, true, &err));
    EXPECT_CODE(netns_link_spec_set_mode(macvlan, "sideways", &err), EINVAL, "sideways");
    TRY(netns_link_add_in(host, macvlan, ns_path, &err));
    netns_link_spec_free(macvlan);
    require(link_exists(pod, MACVLAN) && !link_exists(host, MACVLAN),
            "mv0 is in the pod, not here");

    /* Read back, one link at a time. */
    uint32_t bridge_index = 0;
    TRY(netns_link_index(host, BRIDGE, &bridge_index, &err));
    netns_link_info *l = NULL;
    TRY(netns_link_get(host, BRIDGE, &l, &err));
    require(str_eq(netns_link_info_kind(l), "bridge") && netns_link_info_mtu(l) == V2_MTU &&
                str_eq(netns_link_info_mac(l), BRIDGE_MAC) && netns_link_info_is_up(l) &&
                netns_link_info_index(l) == bridge_index,
            "br-c0: a bridge, up, with its MTU and MAC");
    netns_link_info_free(l);
    TRY(netns_link_get(host, PORT_IF, &l, &err));
    require(str_eq(netns_link_info_kind(l), "veth") && netns_link_info_mtu(l) == V2_MTU &&
                str_eq(netns_link_info_mac(l), PORT_MAC) && netns_link_info_is_up(l) &&
                netns_link_info_controller(l) == bridge_index,
            "veth-c1: a veth, up, with its MTU and MAC, a port of br-c0");
    netns_link_info_free(l);
    TRY(netns_link_get(pod, PORT_PEER, &l, &err));
    require(str_eq(netns_link_info_kind(l), "veth") && netns_link_info_mtu(l) == V2_MTU &&
                netns_link_info_controller(l) == 0,
            "eth1: the other end, in the pod, with the same MTU");
    netns_link_info_free(l);
    TRY(netns_link_get(pod, MACVLAN, &l, &err));
    require(str_eq(netns_link_info_kind(l), "macvlan") &&
                str_eq(netns_link_info_mac(l), MACVLAN_MAC) && netns_link_info_is_up(l),
            "mv0: a macvlan, up, with its MAC");
    netns_link_info_free(l);
    {
        netns_link_info *none = NULL;
        EXPECT_CODE(netns_link_get(pod, "no-such-link", &none, &err), ENODEV, NULL);
        require(none == NULL, "out-parameter untouched on failure");
    }
}

/*
 * Version 2: a batch in the pod: a vxlan link, up, an address and a route
 * on it, and one request that fails on its own (the others are done).
 */
static void v2_batch(const netns_handle *pod)
{
    netns_link_spec *vxlan = NULL;
    TRY(netns_link_spec_new("vxlan", VXLAN, &vxlan, &err));
    TRY(netns_link_spec_set_id(vxlan, VXLAN_VNI, &err));
    TRY(netns_link_spec_set_mac(vxlan, VXLAN_MAC, &err));
    netns_batch *b = NULL;
    TRY(netns_batch_new(&b, &err));
    const char *what[5] = {
        "link_add vx0 (vxlan 42)",
        "link_set_up vx0",
        "addr_add vx0 198.51.100.1/24",
        "route_add 203.0.113.0/24 dev vx0 metric 50",
        "addr_add no-such-link 198.51.100.2/24",
    };
    TRY(netns_batch_link_add(b, vxlan, &err));
    netns_link_spec_free(vxlan); /* the batch holds a copy */
    TRY(netns_batch_link_set_up(b, VXLAN, &err));
    TRY(netns_batch_addr_add(b, VXLAN, "198.51.100.1/24", &err));
    TRY(netns_batch_route_add(b, "203.0.113.0/24", NULL, VXLAN, 50, &err));
    TRY(netns_batch_addr_add(b, "no-such-link", "198.51.100.2/24", &err));
    require(netns_batch_len(b) == 5, "the batch holds 5 requests");
    netns_outcomes *out = NULL;
    TRY(netns_batch_execute(pod, b, &out, &err));
    require(netns_outcomes_len(out) == 5, "one outcome per request");
    for (size_t i = 0; i < 5; i++) {
        int32_t code = netns_outcomes_code(out, i);
        printf("batch %zu: %s -> %d%s%s\n", i, what[i], (int)code,
               code != 0 ? ": " : "", code != 0 ? netns_outcomes_message(out, i) : "");
    }
    bool first_done = true;
    for (size_t i = 0; i < 4; i++)
        first_done = first_done && netns_outcomes_code(out, i) == 0 &&
                     netns_outcomes_message(out, i) == NULL;
    require(first_done, "the first 4 requests were done");
    require(netns_outcomes_code(out, 4) != 0 && netns_outcomes_message(out, 4) != NULL &&
                strstr(netns_outcomes_message(out, 4), "no-such-link") != NULL,
            "the last failed on its own, naming its link");
    require(netns_outcomes_code(out, 5) == NETNS_ERR_INTERNAL &&
                netns_outcomes_message(out, 5) == NULL,
            "outcomes past the end read as NETNS_ERR_INTERNAL, no message");
    netns_outcomes_free(out);
    netns_batch_free(b);

    /* Where the kernel sends 203.0.113.9: out of vx0. */
    uint32_t vxlan_index = 0;
    TRY(netns_link_index(pod, VXLAN, &vxlan_index, &err));
    netns_route *r = NULL;
    TRY(netns_route_get(pod, "203.0.113.9", &r, &err));
    printf("route get 203.0.113.9: dev index %u, metric %u\n",
           (unsigned)netns_route_link_index(r), (unsigned)netns_route_metric(r));
    require(netns_route_link_index(r) == vxlan_index && netns_route_gateway(r) == NULL,
            "203.0.113.9 goes out of vx0, without a gateway");
    netns_route_free(r);
}

int main(int argc, char **argv)
{
    if (argc != 3 && !(argc == 4 && strcmp(argv[3], "--pause") == 0)) {
        fprintf(stderr, "usage: %s NETNS_DIR IPAM_DATA_DIR [--pause]\n", argv[0]);
        return 2;
    }
    /* Line-buffered, so our lines and the spawned children's interleave in order. */
    setvbuf(stdout, NULL, _IOLBF, 0);
    const char *netns_dir = argv[1];
    const char *data_dir = argv[2];
    bool pause = argc == 4;
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

    /*
     * Sysctls of each namespace (the calling thread never moves): this one
     * routes for the pod; new links get no IPv6 link-local address in
     * either (so the route tables printed below are only what this program
     * made and the kernel derived from it).
     */
    TRY(netns_sysctl_set(host, "net.ipv4.ip_forward", "1", &err));
    print_sysctl("host", host, "net.ipv4.ip_forward", "1");
    TRY(netns_sysctl_set(host, "net.ipv6.conf.default.addr_gen_mode", "1", &err));
    TRY(netns_sysctl_set(pod, "net.ipv6.conf.default.addr_gen_mode", "1", &err));
    print_sysctl("pod", pod, "net.ipv6.conf.default.addr_gen_mode", "1");
    {
        char *value = NULL;
        /* A key outside net.ipv4.ip_forward, net.ipv4.conf, net.ipv6.conf is refused. */
        EXPECT_CODE(netns_sysctl_get(pod, "kernel.hostname", &value, &err), EINVAL, NULL);
        /* An interface the namespace does not have. */
        EXPECT_CODE(netns_sysctl_get(pod, "net.ipv4.conf.no-such-link.forwarding", &value, &err),
                    ENODEV, "no-such-link");
        require(value == NULL, "out-parameter untouched on failure");
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
    {
        /* The read side agrees with the calls made. */
        netns_link_info *l = NULL;
        TRY(netns_link_get(pod, POD_IF, &l, &err));
        require(netns_link_info_index(l) == eth0_index && str_eq(netns_link_info_name(l), POD_IF) &&
                    str_eq(netns_link_info_kind(l), "veth") && netns_link_info_is_up(l),
                "netns_link_get: eth0 is a veth, up, with its index");
        netns_link_info_free(l);
        TRY(netns_link_get(host, HOST_IF, &l, &err));
        require(netns_link_info_mtu(l) == 1400 && netns_link_info_controller(l) == 0,
                "netns_link_get: veth-c0 has MTU 1400, no controller");
        netns_link_info_free(l);
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
    {
        /* What the kernel would do for 192.0.2.1: via the default route. */
        netns_route *r = NULL;
        TRY(netns_route_get(pod, "192.0.2.1", &r, &err));
        printf("route get 192.0.2.1: via %s dev index %u\n", or_dash(netns_route_gateway(r)),
               (unsigned)netns_route_link_index(r));
        require(str_eq(netns_route_gateway(r), "10.99.0.1") &&
                    netns_route_link_index(r) == eth0_index &&
                    netns_route_family(r) == AF_INET,
                "netns_route_get: 192.0.2.1 via 10.99.0.1 dev eth0");
        netns_route_free(r);
        netns_route *none = NULL;
        EXPECT_CODE(netns_route_get(pod, "not-an-address", &none, &err), EINVAL, NULL);
        require(none == NULL, "out-parameter untouched on failure");
        netns_routes *routes = NULL;
        EXPECT_CODE(netns_route_list(pod, 12345, 0, &routes, &err), EINVAL, "family");
        require(routes == NULL, "out-parameter untouched on failure");
    }

    /*
     * The gateway's MAC, read from the host end, as permanent neighbour
     * entries in the pod (no ARP or neighbour discovery needed for it).
     */
    char gateway_mac[32];
    {
        netns_link_info *l = NULL;
        TRY(netns_link_get(host, HOST_IF, &l, &err));
        require(netns_link_info_mac(l) != NULL &&
                    strlen(netns_link_info_mac(l)) < sizeof gateway_mac,
                "veth-c0 has a MAC");
        strcpy(gateway_mac, netns_link_info_mac(l));
        netns_link_info_free(l);
    }
    TRY(netns_neigh_add(pod, POD_IF, "10.99.0.1", gateway_mac, &err));
    EXPECT_CODE(netns_neigh_add(pod, POD_IF, "10.99.0.1", gateway_mac, &err), EEXIST, NULL);
    TRY(netns_neigh_replace(pod, POD_IF, "10.99.0.1", gateway_mac, &err));
    TRY(netns_neigh_replace(pod, POD_IF, "fd00:99::1", gateway_mac, &err));
    EXPECT_CODE(netns_neigh_add(pod, POD_IF, "10.99.0.9", "not-a-mac", &err), EINVAL, "not-a-mac");
    {
        netns_neighs *neighs = NULL;
        TRY(netns_neigh_list(pod, POD_IF, &neighs, &err));
        bool found = false;
        for (size_t i = 0; i < netns_neighs_len(neighs); i++) {
            const netns_neigh *e = netns_neighs_get(neighs, i);
            if (str_eq(netns_neigh_ip(e), "10.99.0.1"))
                found = str_eq(netns_neigh_mac(e), gateway_mac) &&
                        str_eq(netns_neigh_state(e), "PERMANENT") &&
                        netns_neigh_link_index(e) == eth0_index;
        }
        require(netns_neighs_get(neighs, netns_neighs_len(neighs)) == NULL,
                "netns_neighs_get past the end is NULL");
        netns_neighs_free(neighs);
        require(found, "10.99.0.1 is at veth-c0's MAC on eth0, PERMANENT");
    }

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

    struct ipam_state ipam_state = {NULL, ""};
    ipam(pod, data_dir, &ipam_state);

    v2_links(host, pod, ns_path);
    v2_batch(pod);

    /* What was made, as the kernel reports it through the ABI. */
    print_links("host", host);
    print_routes("host", host);
    print_links("pod", pod);
    print_routes("pod", pod);
    print_neighs("pod", pod, POD_IF);

    if (pause) {
        printf("paused: press Enter to clean up\n");
        fflush(stdout);
        char line[16];
        if (fgets(line, sizeof line, stdin) == NULL)
            printf("(end of input)\n");
    }

    /* Clean up: version 2's links (their routes go with them). */
    TRY(netns_link_del(pod, VXLAN, &err));
    TRY(netns_link_del(pod, MACVLAN, &err));
    TRY(netns_link_del(host, PORT_IF, &err)); /* and its peer eth1 */
    TRY(netns_link_del(host, BRIDGE, &err));
    require(!link_exists(pod, PORT_PEER), "eth1 went with veth-c1");
    ipam_cleanup(pod, &ipam_state);

    /* Neighbours, route, addresses, the pair (deleting one end deletes both). */
    TRY(netns_neigh_del(pod, POD_IF, "10.99.0.1", &err));
    TRY(netns_neigh_del(pod, POD_IF, "fd00:99::1", &err));
    EXPECT_CODE(netns_neigh_del(pod, POD_IF, "10.99.0.1", &err), ENOENT, NULL);
    TRY(netns_route_del(pod, "default", "10.99.0.1", NULL, &err));
    TRY(netns_addr_del(pod, POD_IF, "10.99.0.2/24", &err));
    TRY(netns_addr_del(host, HOST_IF, "10.99.0.1/24", &err));
    TRY(netns_link_del(host, HOST_IF, &err));
    require(!link_exists(host, HOST_IF) && !link_exists(pod, POD_IF), "the veth pair is gone");
    {
        netns_links *links = NULL;
        TRY(netns_link_list(pod, &links, &err));
        require(netns_links_len(links) == 1 &&
                    str_eq(netns_link_info_name(netns_links_get(links, 0)), "lo"),
                "only lo is left in the pod");
        netns_links_free(links);
    }
    TRY(netns_sysctl_set(host, "net.ipv4.ip_forward", "0", &err));
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
