/* The region's transparency log, read-only under /log/ in the C2SP tlog-tiles layout. The
 * serving rule (what exists, what is published, how it may be cached) is the log's own
 * (warden_tlog_serve_open), so the gateway and `warden log serve` can never disagree. */
#include "gateway/gateway_internal.h"

#include <unistd.h>

enum MHD_Result gw_handle_log(warden_gateway *g, struct MHD_Connection *c, gw_req *q)
{
    int fd = -1;
    uint64_t size = 0;
    const char *type = NULL, *cache = NULL;
    if (g->log_dirfd < 0 ||
        warden_tlog_serve_open(&fd, &size, &type, &cache, g->log_dirfd, q->route.log_path) != 0)
        return gw_respond_error(c, q, 404, "not_found", "no such log file");
    struct MHD_Response *r = MHD_create_response_from_fd64(size, fd);
    if (r == NULL) {
        close(fd);
        return MHD_NO;
    }
    (void)MHD_add_response_header(r, "Content-Type", type);
    (void)MHD_add_response_header(r, "Cache-Control", cache);
    (void)MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
    (void)MHD_add_response_header(r, "Access-Control-Allow-Origin", "*");
    (void)MHD_add_response_header(r, "Warden-Request-Id", q->request_id);
    q->status = MHD_HTTP_OK;
    q->answered = true;
    enum MHD_Result ret = MHD_queue_response(c, MHD_HTTP_OK, r);
    MHD_destroy_response(r);
    return ret;
}
