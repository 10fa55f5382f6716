// A minimal H5P content type, written for the tests: a question and one button; pressing
// it answers, and the content reports a full score and completion through H5P's xAPI.
var H5P = H5P || {};
H5P.StepstoneTap = (function ($) {
  "use strict";
  function Tap(params, contentId) {
    H5P.EventDispatcher.call(this);
    this.params = params;
    this.contentId = contentId;
  }
  Tap.prototype = Object.create(H5P.EventDispatcher.prototype);
  Tap.prototype.constructor = Tap;
  Tap.prototype.attach = function ($container) {
    var self = this;
    $container.addClass("stepstone-tap");
    $("<p>").text(this.params.question).appendTo($container);
    $("<button type=\"button\">").text(this.params.answer).on("click", function () {
      self.triggerXAPIScored(1, 1, "answered", true, true);
      self.triggerXAPIScored(1, 1, "completed", true, true);
      $(this).prop("disabled", true);
    }).appendTo($container);
  };
  return Tap;
})(H5P.jQuery);
