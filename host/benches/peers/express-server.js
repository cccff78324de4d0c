// The Express peer of the speed benchmark: the NCCO the `hello` plugin returns, as JSON.
const express = require("express");
const ncco = [
  { action: "talk", text: "Hello 447700900000." },
  { action: "talk", text: "Press any key.", bargeIn: true },
  { action: "input", type: ["dtmf"], dtmf: { timeOut: 5, maxDigits: 1 }, eventUrl: ["http://127.0.0.1/acme/hello/event/menu"] },
];
const app = express();
app.get("/:tenant/:app/answer", (req, res) => res.json(ncco));
app.listen(Number(process.argv[2]), "127.0.0.1");
