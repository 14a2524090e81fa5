// The map page's behaviour: search (names and what people wrote; #find=<words>), the personal view (#me=<id>), a person's card on
// click, the group filter and the list view. User text is only ever set as textContent.
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("bv-data").textContent);
  var fig = data.figure, columns = data.people, groups = data.groups;
  var gd = document.getElementById("batchviz-map");
  var LINES = fig.data.length - 2, RING = fig.data.length - 1;
  var is3d = fig.data[RING].type === "scatter3d";
  var byNumber = {};
  groups.forEach(function (g) { byNumber[g.number] = g; });

  function $(id) { return document.getElementById(id); }
  function say(text) { $("bv-status").textContent = text; }

  // Plotly reads trace text as a little HTML: user text goes in with <, > and & escaped.
  function plotlyText(text) {
    return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
  }

  // The page sends each person once, a list per field; the points, their hover labels
  // (name, group, the intro's lines) and the search's suggestions are made from it here.
  var people = columns.name.map(function (name, i) {
    return {name: name, key: columns.key[i], dm: columns.dm[i], group: columns.group[i],
            intro: columns.intro[i], near: columns.near[i],
            xyz: is3d ? [columns.x[i], columns.y[i], columns.z[i]] : [columns.x[i], columns.y[i]]};
  });
  var byPoint = {};
  groups.forEach(function (g) {
    var trace = fig.data[g.curve];
    trace.x = []; trace.y = []; trace.text = [];
    if (is3d) trace.z = [];
  });
  people.forEach(function (p, i) {
    var g = byNumber[p.group], trace = fig.data[g.curve];
    byPoint[g.curve + ":" + trace.x.length] = i;
    trace.x.push(p.xyz[0]); trace.y.push(p.xyz[1]);
    if (is3d) trace.z.push(p.xyz[2]);
    trace.text.push(["<b>" + plotlyText(p.name) + "</b>", plotlyText(g.member)]
      .concat(p.intro ? p.intro.split("\n").map(plotlyText) : []).join("<br>"));
  });

  function suggest() {  // the names the search box offers, made when it is first used
    if ($("bv-names").childElementCount) return;
    var options = document.createDocumentFragment();
    people.forEach(function (p) {
      var option = document.createElement("option");
      option.value = p.name;
      options.appendChild(option);
    });
    $("bv-names").appendChild(options);
  }

  function showGroup(number) {
    var visible = fig.data.map(function (t, k) {
      return k >= LINES || number === null || t.legendgroup === String(number);
    });
    Plotly.restyle(gd, {visible: visible}, fig.data.map(function (t, k) { return k; }));
    document.querySelectorAll("#bv-groups [data-group]").forEach(function (b) {
      var mine = b.getAttribute("data-group") === (number === null ? "all" : String(number));
      b.setAttribute("aria-pressed", mine ? "true" : "false");
    });
    gd.setAttribute("data-shown-group", number === null ? "all" : String(number));
    say(number === null ? "Showing all groups." : "Showing only " + byNumber[number].name + ".");
  }

  function personList(list, indices) {  // a button per person, which shows their card
    list.textContent = "";
    indices.forEach(function (j) {
      var li = document.createElement("li"), b = document.createElement("button");
      b.type = "button";
      b.setAttribute("data-person", String(j));
      b.textContent = people[j].name;
      li.appendChild(b);
      list.appendChild(li);
    });
  }

  function card(i, personal) {
    var p = people[i], g = byNumber[p.group];
    $("bv-person-name").textContent = personal ? p.name + " (you)" : p.name;
    $("bv-person-group").textContent = g ? g.name : "not in a group";
    $("bv-person-keywords").textContent = g && g.keywords.length ? "Keywords: " + g.keywords.join(", ") : "";
    $("bv-person-intro").textContent = p.intro.split("\n").join(" ");
    var dm = $("bv-person-dm");
    if (p.dm) { dm.href = p.dm; dm.hidden = false; } else { dm.removeAttribute("href"); dm.hidden = true; }
    var near = $("bv-person-near");
    personList(near.querySelector("ol"), p.near);
    near.hidden = !personal || !p.near.length;
    $("bv-person").hidden = false;
  }

  function point(i) { var v = people[i].xyz; return is3d ? v : [v[0], v[1]]; }

  function mark(i, personal) {
    // A big ring on the person; in the personal view, small named rings on their closest
    // people and a line to each.
    var here = point(i), line = [[], [], []], rings = [[], [], []], names = [], sizes = [];
    var ringed = personal ? [i].concat(people[i].near) : [i];
    ringed.forEach(function (j, k) {
      var there = point(j);
      for (var d = 0; d < here.length; d++) {
        rings[d].push(there[d]);
        if (k) line[d].push(here[d], there[d], null);
      }
      names.push(!personal ? "" : k ? plotlyText(people[j].name) : "you");
      sizes.push(k ? 14 : 22);
    });
    var update = {x: [line[0], rings[0]], y: [line[1], rings[1]], text: [[], names], "marker.size": [null, sizes]};
    if (is3d) update.z = [line[2], rings[2]];
    return Plotly.restyle(gd, update, [LINES, RING]);
  }

  var full = null;  // the whole map's ranges, as first drawn

  function centre(i, personal) {
    if (is3d) return;
    var v = people[i].xyz, w = (full.x[1] - full.x[0]) / 2, h = (full.y[1] - full.y[0]) / 2;
    if (personal && people[i].near.length) {
      // Just wide enough for the person's closest people (at least a tenth of the map).
      var dx = w / 10, dy = h / 10;
      people[i].near.forEach(function (j) {
        dx = Math.max(dx, 1.2 * Math.abs(people[j].xyz[0] - v[0]));
        dy = Math.max(dy, 1.2 * Math.abs(people[j].xyz[1] - v[1]));
      });
      w = dx; h = dy;
    } else {
      w = (gd.layout.xaxis.range[1] - gd.layout.xaxis.range[0]) / 2;
      h = (gd.layout.yaxis.range[1] - gd.layout.yaxis.range[0]) / 2;
    }
    return Plotly.relayout(gd, {"xaxis.range": [v[0] - w, v[0] + w], "yaxis.range": [v[1] - h, v[1] + h]});
  }

  function select(i, personal) {
    var shown = gd.getAttribute("data-shown-group");
    if (shown && shown !== "all" && shown !== String(people[i].group)) showGroup(null);
    card(i, personal);
    Promise.resolve(mark(i, personal)).then(function () { return centre(i, personal); }).then(function () {
      gd.setAttribute("data-picked", String(i));
    });
  }

  function find(query) {
    var q = query.trim().toLowerCase();
    if (!q) return -1;
    var tests = [
      function (n) { return n === q; },
      function (n) { return n.indexOf(q) === 0; },
      function (n) { return n.indexOf(q) >= 0; }
    ];
    for (var t = 0; t < tests.length; t++) {
      for (var i = 0; i < people.length; i++) if (tests[t](people[i].name.toLowerCase())) return i;
    }
    return -1;
  }

  // Searching what people wrote: every word of the query starts a word of someone's name,
  // their group's keywords or the start of their intro (what the page holds), a plural
  // "s" aside. Made once, at the first search.
  var haystacks = null;
  function words(text) {
    return text.toLowerCase().split(/[^\p{L}\p{N}+#]+/u).filter(function (w) { return w; });
  }
  function stem(word) { return word.length > 3 && /s$/.test(word) && !/ss$/.test(word) ? word.slice(0, -1) : word; }
  function findText(query) {
    if (!haystacks) {
      haystacks = people.map(function (p) {
        var g = byNumber[p.group];
        return " " + words([p.name, g ? g.keywords.join(" ") : "", p.intro].join(" ")).join(" ");
      });
    }
    var wanted = words(query).map(stem);
    if (!wanted.length) return [];
    var found = [];
    haystacks.forEach(function (hay, i) {
      if (wanted.every(function (w) { return hay.indexOf(" " + w) >= 0; })) found.push(i);
    });
    return found;
  }

  function showFound(query, found) {
    var section = $("bv-found");
    personList(section.querySelector("ul"), found);
    $("bv-found-title").textContent = found.length ? "Matching \u201c" + query + "\u201d (" + found.length + ")" : "";
    section.hidden = !found.length;
    var shown = gd.getAttribute("data-shown-group");
    if (found.length && shown && shown !== "all") showGroup(null);
    var rings = [[], [], []];
    found.forEach(function (i) { point(i).forEach(function (v, d) { rings[d].push(v); }); });
    var update = {x: [[], rings[0]], y: [[], rings[1]], text: [[], []], "marker.size": [null, 14]};
    if (is3d) update.z = [[], rings[2]];
    Promise.resolve(Plotly.restyle(gd, update, [LINES, RING])).then(function () {
      gd.setAttribute("data-found", found.join(","));
    });
    say(found.length ? found.length + (found.length === 1 ? " person matches " : " people match ") + query + "."
                     : "No one on this map matches " + query + ".");
  }

  function search(exactOnly) {
    var query = $("bv-query").value.trim(), i = find(query);
    if (i >= 0 && people[i].name.toLowerCase() === query.toLowerCase()) {
      say("Found " + people[i].name + ".");
      return select(i, false);
    }
    if (exactOnly || !query) return;
    var found = findText(query);
    if (found.length === 1) {
      say("Found " + people[found[0]].name + ".");
      return select(found[0], false);
    }
    if (!found.length && i >= 0) {  // part of a name: the first who has it
      say("Found " + people[i].name + ".");
      return select(i, false);
    }
    showFound(query, found);
  }

  // #find=<words>[&ids=<key>,<key>]: a search done on opening (the bot's `who's into` link);
  // the people named by key are found whether or not the page's own search finds them.
  function findFromFragment() {
    var found = /^#find=([^&]*)(?:&ids=(.*))?$/.exec(window.location.hash);
    if (!found) return false;
    var query = decodeURIComponent(found[1]).trim(), keys = {}, matches = findText(query);
    (found[2] || "").split(",").forEach(function (k) { if (k) keys[decodeURIComponent(k)] = true; });
    people.forEach(function (p, i) {
      if (p.key !== null && keys[p.key] && matches.indexOf(i) < 0) matches.push(i);
    });
    $("bv-query").value = query;
    showFound(query, matches);
    return true;
  }

  function personal() {
    var found = /^#me=(.+)$/.exec(window.location.hash);
    if (!found) return;
    var key = decodeURIComponent(found[1]);
    for (var i = 0; i < people.length; i++) {
      if (people[i].key === key) {
        say("You are " + people[i].name + "; the lines go to your closest people.");
        return select(i, true);
      }
    }
    say("You are not on this map: not yet, or under a made-up name.");
  }

  document.addEventListener("click", function (event) {
    var target = event.target.closest("[data-person], [data-group]");
    if (!target) return;
    if (target.hasAttribute("data-group")) {
      var value = target.getAttribute("data-group");
      return showGroup(value === "all" ? null : Number(value));
    }
    select(Number(target.getAttribute("data-person")), false);
    $("bv-person-name").focus();
  });
  $("bv-search").addEventListener("submit", function (event) { event.preventDefault(); search(false); });
  $("bv-query").addEventListener("input", function () { search(true); });
  $("bv-query").addEventListener("focus", suggest);
  window.addEventListener("hashchange", function () { if (!findFromFragment()) personal(); });

  Plotly.newPlot(gd, fig.data, fig.layout, fig.config).then(function () {
    if (!is3d) full = {x: gd.layout.xaxis.range.slice(), y: gd.layout.yaxis.range.slice()};
    gd.on("plotly_click", function (event) {
      var pt = event.points && event.points[0];
      var i = pt ? byPoint[pt.curveNumber + ":" + pt.pointNumber] : undefined;
      if (i !== undefined) select(i, false);
    });
    if (!findFromFragment()) personal();
    gd.setAttribute("data-ready", "true");
  });
})();
