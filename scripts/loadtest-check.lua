-- wrk script: POST one comment to /v1/check.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"content":"Great article, I read it while eating rice from Nasi Uduk Mpok Ati, order via WA 0812-3344-5566","post_title":"Japan\'s cyber diplomacy in Southeast Asia","author":"Nasi Uduk Mpok Ati","type":"comment"}'
